/**
 * The append-only audit log (migration 008): one row per operator/CLI write, in the same transaction as the
 * write itself. Values are stored as JSON with bigint as string and Date as ISO text.
 */
import type { Queryable } from '../db/tx.js';

export type ActorKind = 'operator' | 'tenant' | 'cli' | 'system';

/** Who made a change, as the log records it (src/services/context.ts Actor is one). */
export interface AuditActor {
  kind: ActorKind;
  id: string;
  tenantId?: bigint;
}

interface AuditEntry {
  actor: AuditActor;
  action: string; // e.g. 'tenant.suspend', 'topup.create'
  targetType: string; // e.g. 'tenant', 'number', 'gateway'
  targetId?: string | bigint | null;
  tenantId?: bigint | null;
  before?: unknown;
  after?: unknown;
  detail?: unknown;
}

export interface AuditRow {
  id: bigint;
  at: Date;
  actorKind: ActorKind;
  actorId: string;
  action: string;
  targetType: string;
  targetId: string | null;
  tenantId: bigint | null;
  before: unknown;
  after: unknown;
  detail: unknown;
}

const toJson = (v: unknown): string | null =>
  v === undefined || v === null ? null : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));

export async function recordAudit(db: Queryable, e: AuditEntry): Promise<bigint> {
  const { rows } = await db.query<{ id: bigint }>(
    `insert into audit_log (actor_kind, actor_id, action, target_type, target_id, tenant_id, before, after, detail)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb) returning id`,
    [
      e.actor.kind, e.actor.id, e.action, e.targetType, e.targetId == null ? null : String(e.targetId),
      e.tenantId ?? e.actor.tenantId ?? null, toJson(e.before), toJson(e.after), toJson(e.detail),
    ],
  );
  return rows[0]!.id;
}

export async function listAudit(
  db: Queryable,
  f: { tenantId?: bigint; action?: string; since?: Date; until?: Date; limit?: number; beforeId?: bigint } = {},
): Promise<AuditRow[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    args.push(v);
    where.push(sql.replace('?', `$${args.length}`));
  };
  if (f.tenantId !== undefined) add('tenant_id = ?', f.tenantId);
  if (f.action !== undefined) add('action = ?', f.action);
  if (f.since !== undefined) add('at >= ?', f.since);
  if (f.until !== undefined) add('at < ?', f.until);
  if (f.beforeId !== undefined) add('id < ?', f.beforeId);
  args.push(Math.min(Math.max(f.limit ?? 100, 1), 1000));
  const { rows } = await db.query<{
    id: bigint; at: Date; actor_kind: ActorKind; actor_id: string; action: string; target_type: string;
    target_id: string | null; tenant_id: bigint | null; before: unknown; after: unknown; detail: unknown;
  }>(
    `select id, at, actor_kind, actor_id, action, target_type, target_id, tenant_id, before, after, detail
       from audit_log ${where.length ? 'where ' + where.join(' and ') : ''} order by id desc limit $${args.length}`,
    args,
  );
  return rows.map((r) => ({
    id: r.id, at: r.at, actorKind: r.actor_kind, actorId: r.actor_id, action: r.action, targetType: r.target_type,
    targetId: r.target_id, tenantId: r.tenant_id, before: r.before, after: r.after, detail: r.detail,
  }));
}
