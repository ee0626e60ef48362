/** Tenant lookups of the API (read-only). */
import type { Db } from '../tokens.js';

export interface TenantSummary {
  id: bigint;
  code: string;
  legalName: string;
  status: 'active' | 'suspended' | 'terminated';
  serviceStart: Date | null;
  serviceEnd: Date | null;
}

const COLS = 'id, code, legal_name, status, service_start, service_end';

function row(r: { id: bigint; code: string; legal_name: string; status: TenantSummary['status']; service_start: Date | null; service_end: Date | null }): TenantSummary {
  return { id: r.id, code: r.code, legalName: r.legal_name, status: r.status, serviceStart: r.service_start, serviceEnd: r.service_end };
}

export async function findTenant(db: Db, ref: { id: bigint } | { code: string }): Promise<TenantSummary | null> {
  const r = 'id' in ref ? await db.query(`select ${COLS} from tenants where id = $1`, [ref.id]) : await db.query(`select ${COLS} from tenants where code = $1`, [ref.code]);
  return r.rows[0] ? row(r.rows[0]) : null;
}

export async function listTenants(db: Db): Promise<TenantSummary[]> {
  return (await db.query(`select ${COLS} from tenants order by id`)).rows.map(row);
}
