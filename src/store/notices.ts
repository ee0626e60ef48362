/**
 * SQL of tenant notices (notifications): queueing one row per channel (deduplicated by key), the sender's due row,
 * its delivery state, and the operators' listing and retry.
 */
import type { PoolClient } from '../db/pool.js';
import type { Queryable } from '../db/tx.js';
import type { NoticeLanguage } from '../notify/messages.js';
import type { Channel } from '../notify/policy.js';

/** Queue one notice row; false when a row with this dedupe key is there already. */
export async function insertNotice(db: Queryable, n: { tenantId: bigint; kind: string; channel: string; dedupeKey: string; payload: Record<string, unknown> }): Promise<boolean> {
  const r = await db.query(
    `insert into notifications (tenant_id, kind, channel, dedupe_key, payload) values ($1, $2, $3, $4, $5) on conflict (dedupe_key) do nothing`,
    [n.tenantId.toString(), n.kind, n.channel, n.dedupeKey, JSON.stringify(n.payload)],
  );
  return r.rowCount === 1;
}

/** The notice a sender handles next, with what it needs of the tenant. */
export interface DueNotice {
  id: bigint;
  kind: string;
  channel: Channel;
  payload: Record<string, unknown>;
  attempts: number;
  createdAt: Date;
  tenantCode: string;
  legalName: string;
  /** the tenant's notice language, else its announcement language */
  language: NoticeLanguage;
  notifyWebhook: string | null;
}

/** Lock the first notice due at `at` that no other sender holds (for update skip locked); null when none is due. */
export async function takeDueNotice(c: PoolClient, at: Date): Promise<DueNotice | null> {
  const r = (await c.query<{
    id: bigint; kind: string; channel: Channel; payload: Record<string, unknown>; attempts: number; created_at: Date; code: string; legal_name: string;
    language: NoticeLanguage; notify_webhook: string | null;
  }>(
    `select n.id, n.kind, n.channel, n.payload, n.attempts, n.created_at, t.code, t.legal_name, t.notify_webhook,
            coalesce(t.notify_language, t.announcement_language) as language
       from notifications n join tenants t on t.id = n.tenant_id
      where n.sent_at is null and n.next_attempt_at <= $1
      order by n.next_attempt_at, n.id
      limit 1
      for update of n skip locked`,
    [at],
  )).rows[0];
  return r ? {
    id: r.id, kind: r.kind, channel: r.channel, payload: r.payload, attempts: r.attempts, createdAt: r.created_at, tenantCode: r.code,
    legalName: r.legal_name, language: r.language, notifyWebhook: r.notify_webhook,
  } : null;
}

/** A notice's state after an attempt. */
interface NoticeUpdate {
  attempts: number;
  error: string | null;
  sentAt: Date | null;
  nextAttemptAt: Date | null;
  failedAt: Date | null;
}

export async function updateNoticeDelivery(c: Queryable, id: bigint, u: NoticeUpdate): Promise<void> {
  await c.query(
    'update notifications set attempts = $2, error = $3, sent_at = $4, next_attempt_at = $5, failed_at = $6 where id = $1',
    [id.toString(), u.attempts, u.error, u.sentAt, u.nextAttemptAt, u.failedAt],
  );
}

export type NoticeState = 'pending' | 'sent' | 'failed' | 'parked';

/** A notice as operators and tenants see it. */
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

const STATE_SQL = `case when n.sent_at is not null then 'sent' when n.failed_at is not null then 'failed'
                        when n.next_attempt_at is null then 'parked' else 'pending' end`;
const NOTICE_SELECT = `select n.id, n.tenant_id, t.code, n.kind, n.channel, ${STATE_SQL} as state, n.attempts, n.error, n.created_at, n.sent_at,
         n.next_attempt_at, n.failed_at, n.payload
    from notifications n join tenants t on t.id = n.tenant_id`;

interface Row {
  id: bigint; tenant_id: bigint; code: string; kind: string; channel: string; state: NoticeState; attempts: number; error: string | null;
  created_at: Date; sent_at: Date | null; next_attempt_at: Date | null; failed_at: Date | null; payload: Record<string, unknown>;
}

const toNotice = (r: Row): NoticeRow => ({
  id: r.id, tenant: r.code, kind: r.kind, channel: r.channel, to: typeof r.payload.to === 'string' ? r.payload.to : null,
  state: r.state, attempts: r.attempts, error: r.error, createdAt: r.created_at, sentAt: r.sent_at, nextAttemptAt: r.next_attempt_at,
  failedAt: r.failed_at, payload: r.payload,
});

/** Notices newest first: of one tenant (null: all), in one state, of one kind, at most `limit`. */
export async function listNotices(db: Queryable, f: { tenantId: bigint | null; state: NoticeState | null; kind: string | null; limit: number }): Promise<NoticeRow[]> {
  const { rows } = await db.query<Row>(
    `${NOTICE_SELECT}
      where ($1::int8 is null or n.tenant_id = $1) and ($2::text is null or ${STATE_SQL} = $2) and ($3::text is null or n.kind = $3)
      order by n.id desc limit $4`,
    [f.tenantId?.toString() ?? null, f.state, f.kind, f.limit],
  );
  return rows.map(toNotice);
}

/** One notice with its tenant's id, or null; forUpdate locks its row until the caller's transaction ends. */
export async function noticeById(db: Queryable, id: string, opts: { forUpdate?: boolean } = {}): Promise<{ notice: NoticeRow; tenantId: bigint } | null> {
  const r = (await db.query<Row>(`${NOTICE_SELECT} where n.id = $1${opts.forUpdate ? ' for update of n' : ''}`, [id])).rows[0];
  return r ? { notice: toNotice(r), tenantId: r.tenant_id } : null;
}

/** A failed or parked notice due again now, with a fresh count of attempts. */
export async function requeueNotice(db: Queryable, id: string): Promise<void> {
  await db.query('update notifications set next_attempt_at = now(), attempts = 0, failed_at = null where id = $1', [id]);
}
