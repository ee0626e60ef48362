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
import type { Pool } from '../db/pool.js';
import { withTransaction } from '../db/tx.js';
import type { ChargingRedis } from '../charging/redis.js';
import { orderPrepaidKey } from '../ledger/keys.js';
import { recordAudit, type AuditActor } from '../store/audit.js';
import { ensureDemoNetwork } from '../store/network.js';
import { findNumber } from '../store/numbers.js';
import { ensureDemoDeck } from '../store/rates.js';
import { createOrder } from '../tenants/orders.js';
import { changeNumberState } from '../tenants/numbers.js';
import { findCredit } from '../tenants/credits.js';
import { createTenant, getTenant, setTenantRatePlan } from '../tenants/tenants.js';
import { syncCredit, syncTenantState, type SyncOutcome } from '../tenants/sync.js';
import { RuleError } from '../tenants/rules.js';
import type { Rent } from '../billing/rent.js';
import { loadCalendar } from '../calendar/load.js';

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

export async function seedDemo(pool: Pool, redis?: ChargingRedis | null, opts: { timeZone?: string; actor?: AuditActor } = {}): Promise<SeedResult> {
  const timeZone = opts.timeZone ?? 'Asia/Shanghai';
  const actor: AuditActor = opts.actor ?? { kind: 'system', id: 'demo-seed' };
  await ensureDemoDeck(pool, DEMO.ratePlan, DEMO_DECK);
  await ensureDemoNetwork(pool);

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
    const n = await findNumber(c, DEMO.number, { forUpdate: true });
    if (n?.state === 'pending_review') await changeNumberState(c, DEMO.number, 'approve', 'demo: qualification documents on file');
  });
  tenant = await getTenant(pool, DEMO.tenantCode);
  if (!order.duplicate) {
    // the order's own transaction is createOrder's; the audit row follows it (a concurrent seed got a duplicate: no row)
    await recordAudit(pool, {
      actor, action: 'demo.seed', targetType: 'tenant', targetId: tenant.id, tenantId: tenant.id,
      after: { tenant: DEMO.tenantCode, order: DEMO.orderNo, number: DEMO.number, ratePlan: DEMO.ratePlan, trunk: 'ccc-local', gateway: 'carrier-local', packageFen: DEMO.packageAmountFen },
    });
  }
  const credit = order.credit ?? (await findCredit(pool, orderPrepaidKey(DEMO.orderNo)));
  const r = redis ?? null;
  return {
    tenantId: tenant.id,
    created: !order.duplicate,
    redis: { state: await syncTenantState(r, tenant), credit: credit ? await syncCredit(r, credit) : 'skipped' },
  };
}
