/** The audit log as operators read it (softswitch audit list, GET /v1/audit): newest first, keyset-paged by id. */
import { listAudit, type AuditRow } from '../store/audit.js';
import type { Actor, ServiceDeps } from './context.js';
import { requireStaff, resolveTenant } from './common.js';
import { InputError } from './errors.js';

export async function auditList(
  deps: ServiceDeps, actor: Actor,
  f: { tenant?: string | bigint; action?: string; since?: Date; until?: Date; limit?: number; beforeId?: bigint } = {},
): Promise<{ rows: AuditRow[]; nextBeforeId: bigint | null }> {
  requireStaff(actor, 'the audit log');
  const limit = f.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new InputError('limit', 'an integer from 1 to 1000');
  if (f.action !== undefined && !/^[a-z][a-z0-9_.-]{0,79}$/.test(f.action)) throw new InputError('action', 'an action name such as tenant.suspend');
  const tenantId = f.tenant === undefined ? undefined : (await resolveTenant(deps, actor, f.tenant)).id;
  const rows = await listAudit(deps.pool, {
    ...(tenantId !== undefined ? { tenantId } : {}), ...(f.action ? { action: f.action } : {}), ...(f.since ? { since: f.since } : {}),
    ...(f.until ? { until: f.until } : {}), ...(f.beforeId !== undefined ? { beforeId: f.beforeId } : {}), limit,
  });
  return { rows, nextBeforeId: rows.length === limit ? rows[rows.length - 1]!.id : null };
}
