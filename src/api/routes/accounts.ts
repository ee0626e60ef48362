/** Money in: orders (and their payment), top-ups and gifts with an Idempotency-Key. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { creditBalance } from '../../services/credits.js';
import type { ServiceDeps } from '../../services/context.js';
import { createOrder, listOrders, payOrder } from '../../services/orders.js';
import { actorOf, tenantRef } from '../auth.js';
import { Cny, errors, Instant, RedisOutcome, TenantParam } from '../schemas.js';
import { cnyInput } from '../../services/common.js';
import { instant } from './common.js';

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.String({ pattern: '^[\\x21-\\x7e]{1,150}$', description: 'unique key of this credit (e.g. the payment reference): a replay returns the first result; the same key with another body is 409' }),
}, { additionalProperties: true });

export function registerAccountRoutes(app: FastifyInstance, s: ServiceDeps): void {
  app.get('/v1/tenants/:tenant/orders', {
    config: { access: 'any' },
    schema: { summary: 'A tenant\'s orders, oldest first (superseded ones included)', tags: ['orders'], params: TenantParam, response: { 200: Type.Object({ orders: Type.Array(Type.Ref('Order')) }), ...errors(401, 404) } },
  }, async (req) => ({ orders: await listOrders(s, actorOf(req), tenantRef(req, (req.params as { tenant: string }).tenant)) }));

  app.post('/v1/tenants/:tenant/orders', {
    config: { access: 'admin' },
    schema: {
      summary: 'Create an order: it supersedes the active one; prepaid packages credited now unless paid=false; numbers added pending review', tags: ['orders'],
      params: TenantParam,
      body: Type.Object({
        orderNo: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$', description: 'default generated; an existing one is a no-op' })),
        packageAmount: Cny,
        packageCount: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: 1 })),
        validityMonths: Type.Integer({ minimum: 1, maximum: 120 }),
        numbers: Type.Optional(Type.Array(Type.String({ maxLength: 30 }), { maxItems: 10000 })),
        numberCount: Type.Optional(Type.Integer({ minimum: 0, maximum: 10000 })),
        rent: Type.Optional(Cny),
        rentPeriod: Type.Optional(Type.Union([Type.Literal('month'), Type.Literal('year')], { description: 'rent period of the numbers, billed in advance (default year)' })),
        signedAt: Type.Optional(Instant),
        activatedAt: Type.Optional(Instant),
        paid: Type.Optional(Type.Boolean({ default: true })),
      }, { additionalProperties: false }),
      response: {
        201: Type.Object({ order: Type.Ref('Order'), duplicate: Type.Boolean(), redis: Type.Object({ state: RedisOutcome, credit: RedisOutcome }) }, { additionalProperties: true }),
        200: Type.Object({ order: Type.Ref('Order'), duplicate: Type.Literal(true) }, { additionalProperties: true }),
        ...errors(400, 401, 403, 404),
      },
    },
  }, async (req, reply) => {
    const b = req.body as { orderNo?: string; packageAmount: string; packageCount?: number; validityMonths: number; numbers?: string[]; numberCount?: number; rent?: string; rentPeriod?: 'month' | 'year'; signedAt?: string; activatedAt?: string; paid?: boolean };
    const numbers = b.numbers ?? [];
    const r = await createOrder(s, actorOf(req), {
      tenant: tenantRef(req, (req.params as { tenant: string }).tenant), orderNo: b.orderNo, packageAmountFen: cnyInput('body.packageAmount', b.packageAmount),
      packageCount: b.packageCount ?? 1, validityMonths: b.validityMonths, numberCount: b.numberCount ?? numbers.length,
      rent: { amountFen: b.rent === undefined ? 0n : cnyInput('body.rent', b.rent), period: b.rentPeriod ?? 'year' }, signedAt: instant('body.signedAt', b.signedAt),
      activatedAt: instant('body.activatedAt', b.activatedAt), paid: b.paid !== false, numbers,
    });
    return reply.code(r.duplicate ? 200 : 201).send(r);
  });

  app.post('/v1/orders/:orderNo/pay', {
    config: { access: 'admin' },
    schema: {
      summary: 'Record payment of an unpaid order: its prepaid packages are credited; paying again is a no-op', tags: ['orders'],
      params: Type.Object({ orderNo: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$' }) }, { additionalProperties: false }),
      body: Type.Object({ paidAt: Type.Optional(Instant) }, { additionalProperties: false }),
      response: { 200: Type.Object({ order: Type.Ref('Order'), duplicate: Type.Boolean() }, { additionalProperties: true }), ...errors(400, 401, 403, 404) },
    },
  }, async (req) => payOrder(s, actorOf(req), (req.params as { orderNo: string }).orderNo, instant('body.paidAt', (req.body as { paidAt?: string } | undefined)?.paidAt)));

  for (const kind of ['paid', 'gift'] as const) {
    app.post(`/v1/tenants/:tenant/${kind === 'paid' ? 'top-ups' : 'gifts'}`, {
      config: { access: 'admin' },
      schema: {
        summary: kind === 'paid'
          ? 'Top up: paid credit in a new bucket valid to the service end. Idempotency-Key required'
          : 'Gift: gift credit in a new bucket (not refundable, art. 5.3). Idempotency-Key required',
        description: 'The answer\'s body is the credit. A replay (same key, same body) answers the first result again with Idempotent-Replayed: true and credits nothing; the same key with another body is 409. X-Redis-Sync says whether the live balance in Redis followed.',
        tags: ['money'], params: TenantParam, headers: IdempotencyHeaders,
        body: Type.Object({
          amount: Cny,
          validFrom: Type.Optional(Instant),
          expiresAt: Type.Optional(Instant),
          memo: Type.Optional(Type.String({ maxLength: 200 })),
        }, { additionalProperties: false }),
        response: { 201: Type.Ref('Credit'), ...errors(400, 401, 403, 404, 409) },
      },
    }, async (req, reply) => {
      const b = req.body as { amount: string; validFrom?: string; expiresAt?: string; memo?: string };
      const r = await creditBalance(s, actorOf(req), {
        tenant: tenantRef(req, (req.params as { tenant: string }).tenant), kind, amountFen: cnyInput('body.amount', b.amount),
        idempotencyKey: req.headers['idempotency-key'] as string, validFrom: instant('body.validFrom', b.validFrom),
        expiresAt: instant('body.expiresAt', b.expiresAt), memo: b.memo ?? null,
      });
      // the first result, also on a replay: the credit as it was made
      const { duplicate: _d, ...credit } = r.credit;
      return reply.code(201).header('idempotent-replayed', String(r.replayed)).header('x-redis-sync', r.redis).send(credit);
    });
  }
}
