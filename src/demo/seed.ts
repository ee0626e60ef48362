/**
 * The contract's sample order as demo data (idempotent: running it again changes nothing):
 * tenant "demo", order DEMO-0001 = 1 prepaid package of 11,000.00 CNY valid 12 months + 1 number at
 * 420.00 CNY per year (the rules doc's reading of the rent line; contract total 11,420.00), paid with the order:
 * receivables for the package and the first (only) rent year, settled by payment order:DEMO-0001, and a paid bucket
 * of 1,100,000 fen credited through the ledger; the number
 * +8657188880000 (Hangzhou fixed line) approved; rate plan "china-std" (per-second 1/1); ingress trunk
 * "ccc-local" 127.0.0.1; carrier gateway "carrier-local" 127.0.0.1:5070 udp. Redis follows when given. The run that
 * creates the order writes one audit row `demo.seed` (actor: the CLI user, or the system at auto-seed).
 */
import { withTransaction, type Pool } from '../db/pool.js';
import type { ChargingRedis } from '../charging/redis.js';
import { createOrder } from '../tenants/orders.js';
import { changeNumberState } from '../tenants/numbers.js';
import { findCredit } from '../tenants/credits.js';
import { createTenant, getTenant, setTenantRatePlan } from '../tenants/tenants.js';
import { syncCredit, syncTenantState, type SyncOutcome } from '../tenants/sync.js';
import { RuleError } from '../tenants/rules.js';
import type { Rent } from '../billing/rent.js';
import { loadCalendar } from '../calendar/store.js';
import { recordAudit } from '../audit/audit.js';
import type { Actor } from '../services/context.js';

export const DEMO = {
  tenantCode: 'demo',
  legalName: 'Demo Enterprise Co., Ltd.',
  orderNo: 'DEMO-0001',
  number: '+8657188880000',
  ratePlan: 'china-std',
  packageAmountFen: 1_100_000n,
  rent: { amountFen: 42_000n, period: 'year' } as Rent,
  validityMonths: 12,
} as const;

/** prefix, destination, CNY/minute. Per-second billing (1/1), no connect fee. */
export const DEMO_DECK: readonly [string, string, string][] = [
  ['86', 'China (other)', '0.100000'],
  ['8610', 'Beijing fixed', '0.060000'],
  ['8620', 'Guangzhou fixed', '0.060000'],
  ['8621', 'Shanghai fixed', '0.060000'],
  ['86571', 'Hangzhou fixed', '0.060000'],
  ['86755', 'Shenzhen fixed', '0.060000'],
  ['8613', 'China mobile 13x', '0.080000'],
  ['8614', 'China mobile 14x', '0.080000'],
  ['8615', 'China mobile 15x', '0.080000'],
  ['8616', 'China mobile 16x', '0.080000'],
  ['8617', 'China mobile 17x', '0.080000'],
  ['8618', 'China mobile 18x', '0.080000'],
  ['8619', 'China mobile 19x', '0.080000'],
];

export interface SeedResult {
  tenantId: bigint;
  created: boolean; // the demo order was created now
  redis: { state: SyncOutcome; credit: SyncOutcome };
}

export async function seedDemo(pool: Pool, redis?: ChargingRedis | null, opts: { timeZone?: string; actor?: Actor } = {}): Promise<SeedResult> {
  const timeZone = opts.timeZone ?? 'Asia/Shanghai';
  const actor: Actor = opts.actor ?? { kind: 'system', id: 'demo-seed' };
  await pool.query(`insert into rate_plans (name) values ($1) on conflict (name) do nothing`, [DEMO.ratePlan]);
  await pool.query(
    `insert into rate_deck_entries (rate_plan_id, prefix, destination, price_per_minute, initial_increment, subsequent_increment)
     select p.id, d.prefix, d.destination, d.price::numeric, 1, 1
       from rate_plans p, unnest($2::text[], $3::text[], $4::text[]) as d(prefix, destination, price)
      where p.name = $1
     on conflict (rate_plan_id, prefix, effective_from) do nothing`,
    [DEMO.ratePlan, DEMO_DECK.map((d) => d[0]), DEMO_DECK.map((d) => d[1]), DEMO_DECK.map((d) => d[2])],
  );
  await pool.query(`insert into ingress_trunks (name, address) values ('ccc-local', '127.0.0.1') on conflict (name) do nothing`);
  await pool.query(`insert into carrier_gateways (name, host, port, transport) values ('carrier-local', '127.0.0.1', 5070, 'udp') on conflict (name) do nothing`);

  let tenant;
  try {
    tenant = await getTenant(pool, DEMO.tenantCode);
  } catch (e) {
    if (!(e instanceof RuleError)) throw e;
    try {
      tenant = await createTenant(pool, { code: DEMO.tenantCode, legalName: DEMO.legalName });
    } catch (e2) {
      // a concurrent seed made it first
      if (!(e2 instanceof RuleError)) throw e2;
      tenant = await getTenant(pool, DEMO.tenantCode);
    }
  }
  if (tenant.ratePlanId === null) tenant = await setTenantRatePlan(pool, tenant.id, DEMO.ratePlan);
  const order = await createOrder(pool, {
    tenantId: tenant.id, orderNo: DEMO.orderNo, packageAmountFen: DEMO.packageAmountFen, packageCount: 1, validityMonths: DEMO.validityMonths,
    numberCount: 1, rent: DEMO.rent, paid: true, numbers: [DEMO.number],
  }, await loadCalendar(pool, timeZone));
  await withTransaction(pool, async (c) => {
    const n = await c.query<{ state: string }>(`select state from numbers where e164 = $1 for update`, [DEMO.number]);
    if (n.rows[0]?.state === 'pending_review') await changeNumberState(c, DEMO.number, 'approve', 'demo: qualification documents on file');
  });
  tenant = await getTenant(pool, DEMO.tenantCode);
  if (!order.duplicate) {
    // the order's own transaction is createOrder's; the audit row follows it (a concurrent seed got a duplicate: no row)
    await recordAudit(pool, {
      actor, action: 'demo.seed', targetType: 'tenant', targetId: tenant.id, tenantId: tenant.id,
      after: { tenant: DEMO.tenantCode, order: DEMO.orderNo, number: DEMO.number, ratePlan: DEMO.ratePlan, trunk: 'ccc-local', gateway: 'carrier-local', packageFen: DEMO.packageAmountFen },
    });
  }
  const credit = order.credit ?? (await findCredit(pool, `order:${DEMO.orderNo}:prepaid`));
  const r = redis ?? null;
  return {
    tenantId: tenant.id,
    created: !order.duplicate,
    redis: { state: await syncTenantState(r, tenant), credit: credit ? await syncCredit(r, credit) : 'skipped' },
  };
}
