/**
 * Tenant notices as operators and tenants see them (`softswitch notice list | retry`, GET /v1/notices): the
 * `notifications` rows that src/tenants/notices.ts writes and src/notify sends, with their delivery state. A tenant
 * sees only its own; re-queuing a failed or parked notice is an operator-admin write, audited.
 */
import { recordAudit } from '../store/audit.js';
import { listNotices as selectNotices, noticeById, requeueNotice, type NoticeRow, type NoticeState } from '../store/notices.js';
import { RuleError } from '../tenants/rules.js';
import { requireWriter, resolveTenant, tx } from './common.js';
import type { Actor, ServiceDeps } from './context.js';
import { NotFoundError } from './errors.js';

export type { NoticeState };
export const NOTICE_STATES: readonly NoticeState[] = ['pending', 'sent', 'failed', 'parked'];

interface NoticeListInput {
  tenant?: string;
  state?: NoticeState;
  kind?: string;
  limit?: number;
}

/** Notices newest first (a tenant actor: its own only; default 100, at most 1000). */
export async function listNotices(deps: ServiceDeps, actor: Actor, input: NoticeListInput = {}): Promise<NoticeRow[]> {
  const limit = input.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new RuleError('limit must be 1-1000');
  if (input.state !== undefined && !NOTICE_STATES.includes(input.state)) throw new RuleError(`state must be one of ${NOTICE_STATES.join(', ')}`);
  const tenantId = input.tenant !== undefined ? (await resolveTenant(deps, actor, input.tenant)).id : actor.kind === 'tenant' ? actor.tenantId ?? -1n : null;
  return selectNotices(deps.pool, { tenantId, state: input.state ?? null, kind: input.kind ?? null, limit });
}

/**
 * Send a failed or parked notice again (after fixing the address, the SMTP login or the provider): due now, with
 * notify.maxAttempts new attempts. A sent or still pending notice is refused (nothing to retry).
 */
export async function retryNotice(deps: ServiceDeps, actor: Actor, input: { id: string }): Promise<NoticeRow> {
  requireWriter(actor, 'retrying a notice');
  if (!/^[1-9][0-9]{0,18}$/.test(input.id)) throw new RuleError(`not a notice id: ${JSON.stringify(input.id)}`);
  return tx(deps, async (c) => {
    const found = await noticeById(c, input.id, { forUpdate: true });
    if (!found) throw new NotFoundError(`no notice ${input.id}`);
    const before = found.notice;
    if (before.state !== 'failed' && before.state !== 'parked') throw new RuleError(`notice ${input.id} is ${before.state}: only a failed or parked notice is sent again`);
    await requeueNotice(c, input.id);
    const after = (await noticeById(c, input.id))!.notice;
    await recordAudit(c, {
      actor, action: 'notice.retry', targetType: 'notification', targetId: before.id, tenantId: found.tenantId,
      before: { state: before.state, attempts: before.attempts, error: before.error }, after: { state: after.state, attempts: 0 },
    });
    return after;
  });
}
