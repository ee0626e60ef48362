/**
 * Parsing and validation of API path and query parameters. Pure; every bad value is a 400 that names the
 * parameter, the value and what is allowed.
 */
import { badRequest } from './errors.js';

export type TenantRef = { by: 'me' } | { by: 'id'; id: bigint } | { by: 'code'; code: string };

export function parseTenantRef(raw: string): TenantRef {
  if (raw === 'me') return { by: 'me' };
  if (/^[1-9][0-9]{0,17}$/.test(raw)) return { by: 'id', id: BigInt(raw) };
  if (/^[a-z0-9][a-z0-9_-]{0,62}$/.test(raw)) return { by: 'code', code: raw };
  throw badRequest(`tenant ${JSON.stringify(raw)}: allowed "me", a tenant id or a tenant code`);
}

/** Only the listed query parameters, each at most once: a typo must not silently widen a query. */
export function queryParams(url: URL, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) {
    if (!allowed.includes(k)) throw badRequest(`unknown query parameter ${JSON.stringify(k)}; allowed: ${allowed.join(', ') || 'none'}`);
    if (k in out) throw badRequest(`query parameter ${k} given more than once`);
    out[k] = v;
  }
  return out;
}

/** "2026-11" → { year: 2026, month: 11 } */
export function parseMonth(raw: string): { year: number; month: number; text: string } {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(raw);
  if (!m) throw badRequest(`month ${JSON.stringify(raw)}: allowed YYYY-MM, e.g. 2026-11`);
  const year = Number(m[1]);
  if (year < 2000 || year > 2999) throw badRequest(`month ${raw}: year must be between 2000 and 2999`);
  return { year, month: Number(m[2]), text: raw };
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 instant with an explicit zone (Z or ±hh:mm); a zone-less time would be ambiguous. */
export function parseInstant(name: string, raw: string): Date {
  const d = new Date(raw);
  if (!ISO.test(raw) || Number.isNaN(d.getTime())) {
    throw badRequest(`${name} ${JSON.stringify(raw)}: allowed an ISO 8601 time with zone, e.g. 2026-11-24T08:00:00+08:00`);
  }
  return d;
}

export function parseLimit(raw: string | undefined, dflt: number, max: number): number {
  if (raw === undefined) return dflt;
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw badRequest(`limit ${JSON.stringify(raw)}: allowed an integer from 1 to ${max}`);
  return Number(raw);
}

export function parseEnum<T extends string>(name: string, raw: string | undefined, values: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!(values as readonly string[]).includes(raw)) throw badRequest(`${name} ${JSON.stringify(raw)}: allowed one of ${values.join(', ')}`);
  return raw as T;
}

/** Keyset cursor of the CDR listing: the (invite_at, call_id) of the last row returned, opaque to clients. */
export interface CdrCursor {
  inviteAt: string; // microsecond ISO text from PostgreSQL, so no precision is lost
  callId: string;
}

export function encodeCursor(c: CdrCursor): string {
  return Buffer.from(JSON.stringify([c.inviteAt, c.callId]), 'utf8').toString('base64url');
}

export function decodeCursor(raw: string): CdrCursor {
  try {
    if (!/^[A-Za-z0-9_-]{1,1000}$/.test(raw)) throw new Error('charset');
    const v: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && ISO.test(v[0]) && typeof v[1] === 'string' && v[1].length <= 300) {
      return { inviteAt: v[0], callId: v[1] };
    }
  } catch {
    // fall through to the 400 below
  }
  throw badRequest('cursor is not a value returned as nextCursor by this API');
}
