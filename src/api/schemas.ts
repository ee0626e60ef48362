/**
 * JSON Schemas (TypeBox) shared by the routes: they validate requests and are the OpenAPI 3.1 document's
 * components. Money is integer fen as a decimal string (`*Fen`), never a JSON number; times are ISO 8601 with zone.
 */
import { Type, type TSchema } from 'typebox';

export const Id = Type.String({ pattern: '^[1-9][0-9]{0,18}$', description: 'decimal id' });
export const Fen = Type.String({ pattern: '^-?[0-9]{1,19}$', description: 'money in fen (0.01 CNY), integer as a decimal string' });
export const Cny = Type.String({ pattern: '^[0-9]{1,13}(\\.[0-9]{1,2})?$', description: 'CNY with at most 2 decimals, e.g. "500.00"', examples: ['500.00'] });
export const Instant = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,6})?)?(Z|[+-]\\d{2}:\\d{2})$', description: 'ISO 8601 time with zone', examples: ['2026-11-24T08:00:00+08:00'] });
export const DateTime = Type.String({ format: 'date-time' });
// null first: with type coercion on, a null checked against a string branch first would become ""
export const Nullable = <T extends TSchema>(t: T) => Type.Union([Type.Null(), t]);
export const PlanName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$', description: 'rate plan name' });
export const Reason = Type.String({ minLength: 1, maxLength: 200, description: 'why; kept with the change and in the audit log' });

export const TenantParam = Type.Object({
  tenant: Type.String({ pattern: '^(me|#?[1-9][0-9]{0,17}|[a-z0-9][a-z0-9_-]{0,62})$', description: '"me" (a tenant token), a tenant code, or a tenant id (digits, or #<id> written %23<id> in a path: always the id)' }),
}, { additionalProperties: false });

export const ErrorBody = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'bad_request, unauthorized, forbidden, not_found, conflict, payload_too_large, unsupported_media_type, rate_limited, internal' }),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'the request field a 400 is about, e.g. body.amount or query.limit' })),
  }),
}, { $id: 'Error', title: 'Error' });

const TenantStatus = Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('terminated')]);

export const Tenant = Type.Object({
  id: Id, code: Type.String(), legalName: Type.String(), status: TenantStatus, statusReason: Nullable(Type.String()),
  serviceStart: Nullable(DateTime), serviceEnd: Nullable(DateTime), ratePlanId: Nullable(Id),
  notifyEmail: Nullable(Type.String()), notifySms: Nullable(Type.String()), notifyWebhook: Nullable(Type.String()),
  notifyLanguage: Nullable(Type.Union([Type.Literal('zh'), Type.Literal('en')])), createdAt: DateTime,
}, { $id: 'Tenant', title: 'Tenant' });

export const Limits = Type.Object({
  maxConcurrent: Type.Integer({ minimum: 0, maximum: 100000 }),
  maxCps: Type.Integer({ minimum: 0, maximum: 10000 }),
  blockedPrefixes: Type.Array(Type.String({ pattern: '^[0-9]{1,20}$' }), { maxItems: 1000 }),
  allowInternational: Type.Boolean(),
  callingHours: Nullable(Type.Object({ from: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' }), to: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$' }) }, { additionalProperties: false })),
  dailySpendCapFen: Nullable(Fen),
}, { $id: 'Limits', title: 'Limits' });

export const Credit = Type.Object({
  transferId: Id, tenantId: Id, bucketId: Id, kind: Type.Union([Type.Literal('paid'), Type.Literal('gift')]),
  amountFen: Fen, validFrom: DateTime, expiresAt: Nullable(DateTime),
}, { $id: 'Credit', title: 'Credit' });

const NumberDoc = Type.Object({
  docType: Type.Union(['business_licence', 'legal_rep_id', 'agent_id', 'authorization_letter', 'number_application', 'other'].map((v) => Type.Literal(v))),
  docRef: Type.String({ minLength: 1, maxLength: 200, description: 'the document\'s id in the carrier\'s document store' }),
  fileSha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256 of the file, lowercase hex' }),
}, { additionalProperties: false, $id: 'DocumentRef', title: 'DocumentRef' });

export const PhoneNumber = Type.Object({
  id: Id, e164: Type.String(), tenantId: Nullable(Id), tenantCode: Nullable(Type.String()), rent: Type.Object({ amountFen: Fen, period: Type.String() }), heldSince: Nullable(DateTime),
  state: Type.Union(['pending_review', 'approved', 'suspended', 'rejected', 'reclaimed'].map((v) => Type.Literal(v))),
  stateReason: Nullable(Type.String()), reviewedAt: Nullable(DateTime),
  documents: Type.Array(Type.Object({ id: Id, docType: Type.String(), docRef: Type.String(), fileSha256: Type.String(), submittedAt: DateTime })),
}, { $id: 'Number', title: 'Number' });

export const Order = Type.Object({
  id: Id, tenantId: Id, orderNo: Type.String(), signedAt: DateTime, activatedAt: Nullable(DateTime), packageAmountFen: Fen, packageCount: Type.Integer(),
  validityMonths: Type.Integer(), numberCount: Type.Integer(), rent: Type.Object({ amountFen: Fen, period: Type.String() }), totalFen: Fen, paidAt: Nullable(DateTime),
  status: Type.String(), supersedesOrderId: Nullable(Id),
}, { $id: 'Order', title: 'Order' });

export const RedisOutcome = Type.String({ description: 'what happened to the Redis copy: applied, already-applied, skipped, or "failed: ..." (softswitch reconcile repairs it)' });

/** Every schema registered with app.addSchema (referenced by $id in the OpenAPI components). */
export const SHARED_SCHEMAS = [ErrorBody, Tenant, Limits, Credit, NumberDoc, PhoneNumber, Order];

/** The error answers a route can give, for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((s) => [s, Type.Ref('Error')]));
}
