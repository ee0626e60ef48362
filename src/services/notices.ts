/**
 * Tenant notices as operators and tenants see them (`softswitch notice list | retry`, GET /v1/notices): the
 * `notifications` rows that src/tenants/notices.ts writes and src/notify sends, with their delivery state. A tenant
 * sees only its own; re-queuing a failed or parked notice is an operator-admin write, audited.
 */
import { recordAudit } from '../audit/audit.js';
import { RuleError } from '../tenants/rules.js';
import { requireWriter, resolveTenant, tx } from './common.js';
import type { Actor, ServiceDeps } from './context.js';
import { NotFoundError } from './errors.js';

export type NoticeState = 'pending' | 'sent' | 'failed' | 'parked';
export const NOTICE_STATES: readonly NoticeState[] = ['pending', 'sent', 'failed', 'parked'];

export interface NoticeRow {
  id: bigint;
  tenant: string;
  kind: string;
  channel: string;
  to: string | null;
  /** pending: an attempt is planned; sent; failed: given up; parked: no provider, waits for an operator */
  state: NoticeState;
  attempts: number;
  error: string | null;
  createdAt: Date;
  sentAt: Date | null;
  nextAttemptAt: Date | null;
  failedAt: Date | null;
  payload: Record<string, unknown>;
}

export interface NoticeListInput {
  tenant?: string;
  state?: NoticeState;
  kind?: string;
  limit?: number;
}

const STATE_SQL = `case when n.sent_at is not null then 'sent' when n.failed_at is not null then 'failed'
                        when n.next_attempt_at is null then 'parked' else 'pending' end`;

interface Row {
  id: bigint; code: string; kind: string; channel: string; state: NoticeState; attempts: number; error: string | null;
  created_at: Date; sent_at: Date | null; next_attempt_at: Date | null; failed_at: Date | null; payload: Record<string, unknown>;
}

const toNotice = (r: Row): NoticeRow => ({
  id: r.id, tenant: r.code, kind: r.kind, channel: r.channel, to: typeof r.payload.to === 'string' ? r.payload.to : null, state: r.state,
  attempts: r.attempts, error: r.error, createdAt: r.created_at, sentAt: r.sent_at, nextAttemptAt: r.next_attempt_at, failedAt: r.failed_at,
  payload: r.payload,
});

/** Notices newest first (a tenant actor: its own only; default 100, at most 1000). */
export async function listNotices(deps: ServiceDeps, actor: Actor, input: NoticeListInput = {}): Promise<NoticeRow[]> {
  const limit = input.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RuleError('limit must be 1-1000');
  if (input.state !== undefined && !NOTICE_STATES.includes(input.state)) throw new RuleError(`state must be one of ${NOTICE_STATES.join(', ')}`);
  const tenantId = input.tenant !== undefined ? (await resolveTenant(deps, actor, input.tenant)).id : actor.kind === 'tenant' ? actor.tenantId ?? -1n : null;
  const { rows } = await deps.pool.query<Row>(
    `select n.id, t.code, n.kind, n.channel, ${STATE_SQL} as state, n.attempts, n.error, n.created_at, n.sent_at, n.next_attempt_at, n.failed_at, n.payload
       from notifications n join tenants t on t.id = n.tenant_id
      where ($1::int8 is null or n.tenant_id = $1) and ($2::text is null or ${STATE_SQL} = $2) and ($3::text is null or n.kind = $3)
      order by n.id desc limit $4`,
    [tenantId?.toString() ?? null, input.state ?? null, input.kind ?? null, limit],
  );
  return rows.map(toNotice);
}

/**
 * Send a failed or parked notice again (after fixing the address, the SMTP login or the provider): due now, with
 * notify.maxAttempts new attempts. A sent or still pending notice is refused (nothing to retry).
 */
export async function retryNotice(deps: ServiceDeps, actor: Actor, input: { id: string }): Promise<NoticeRow> {
  requireWriter(actor, 'retrying a notice');
  if (!/^[1-9][0-9]{0,18}$/.test(input.id)) throw new RuleError(`not a notice id: ${JSON.stringify(input.id)}`);
  return tx(deps, async (c) => {
    const before = (await c.query<Row>(
      `select n.id, t.code, n.kind, n.channel, ${STATE_SQL} as state, n.attempts, n.error, n.created_at, n.sent_at, n.next_attempt_at, n.failed_at, n.payload, n.tenant_id
         from notifications n join tenants t on t.id = n.tenant_id where n.id = $1 for update of n`, [input.id],
    )).rows[0] as (Row & { tenant_id: bigint }) | undefined;
    if (!before) throw new NotFoundError(`no notice ${input.id}`);
    if (before.state !== 'failed' && before.state !== 'parked') throw new RuleError(`notice ${input.id} is ${before.state}: only a failed or parked notice is sent again`);
    await c.query('update notifications set next_attempt_at = now(), attempts = 0, failed_at = null where id = $1', [input.id]);
    const after = (await c.query<Row>(
      `select n.id, t.code, n.kind, n.channel, ${STATE_SQL} as state, n.attempts, n.error, n.created_at, n.sent_at, n.next_attempt_at, n.failed_at, n.payload
         from notifications n join tenants t on t.id = n.tenant_id where n.id = $1`, [input.id],
    )).rows[0]!;
    await recordAudit(c, {
      actor, action: 'notice.retry', targetType: 'notification', targetId: before.id, tenantId: before.tenant_id,
      before: { state: before.state, attempts: before.attempts, error: before.error }, after: { state: after.state, attempts: 0 },
    });
    return toNotice(after);
  });
}
