/**
 * HTTP errors: every error answer is `{"error":{"code","message","field"?}}`. Service errors (src/services/errors.ts)
 * map to a status here; anything unknown is a 500 whose detail stays in the server log.
 */
import { IdempotencyConflictError, LedgerError } from '../ledger/errors.js';
import { ConflictError, ForbiddenError, InputError, NotFoundError, RuleError } from '../services/errors.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const unauthorized = (message: string): HttpError => new HttpError(401, 'unauthorized', message);

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
  validation?: { instancePath: string; message?: string; params?: Record<string, unknown>; keyword: string }[];
  validationContext?: string;
}

/** The field a schema validation error is about: body.amount, query.limit, header idempotency-key, ... */
function validationField(e: FastifyLikeError): { field: string; reason: string } {
  const v = e.validation![0]!;
  const ctx = e.validationContext === 'querystring' ? 'query' : (e.validationContext ?? 'body');
  let path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (v.keyword === 'required' && typeof v.params?.missingProperty === 'string') path = [path, v.params.missingProperty].filter(Boolean).join('.');
  if (v.keyword === 'additionalProperties' && typeof v.params?.additionalProperty === 'string') {
    return { field: `${ctx}.${[path, v.params.additionalProperty].filter(Boolean).join('.')}`, reason: 'unknown field; not allowed here' };
  }
  let reason = v.message ?? 'invalid';
  if (v.keyword === 'enum' && Array.isArray(v.params?.allowedValues)) reason = `must be one of ${(v.params.allowedValues as unknown[]).join(', ')}`;
  if (v.keyword === 'pattern') reason = 'has the wrong format (see the OpenAPI document at /openapi.json)';
  return { field: path ? `${ctx}.${path}` : ctx, reason };
}

/** Status and body for any error a route or hook threw. */
export function errorResponse(e: unknown): { status: number; body: ErrorBody; internal: boolean } {
  const out = (status: number, code: string, message: string, field?: string) => ({ status, body: { error: { code, message, ...(field ? { field } : {}) } }, internal: false });
  if (e instanceof HttpError) return out(e.status, e.code, e.message, e.field);
  if (e instanceof InputError) return out(400, 'bad_request', e.message, e.field);
  if (e instanceof NotFoundError) return out(404, 'not_found', e.message);
  if (e instanceof ConflictError || e instanceof IdempotencyConflictError) return out(409, 'conflict', e.message);
  if (e instanceof ForbiddenError) return out(403, 'forbidden', e.message);
  const f = e as FastifyLikeError;
  if (f && Array.isArray(f.validation) && f.validation.length > 0) {
    const { field, reason } = validationField(f);
    return out(400, 'bad_request', `${field}: ${reason}`, field);
  }
  // Fastify's own errors (some are RangeErrors, e.g. body too large): their status stands
  if (f && typeof f.statusCode === 'number' && f.statusCode >= 400 && f.statusCode < 500 && typeof f.code === 'string' && f.code.startsWith('FST_')) {
    const codes: Record<number, string> = { 400: 'bad_request', 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large', 415: 'unsupported_media_type', 429: 'rate_limited' };
    return out(f.statusCode, codes[f.statusCode] ?? 'bad_request', f.message);
  }
  if (e instanceof RuleError || e instanceof LedgerError || e instanceof RangeError) return out(400, 'bad_request', e.message);
  if (f && f.statusCode === 429) return out(429, 'rate_limited', f.message);
  return { status: 500, body: { error: { code: 'internal', message: 'internal error; see the server log' } }, internal: true };
}
