/**
 * The API's first limit, per client address, before anything else runs: no token is looked up, no database is
 * touched for a request past it. Made-up tokens cost a database look-up each, so a failed authentication counts as
 * AUTH_FAILURE_COST requests: an address rotating fake tokens gets at most perMinute / AUTH_FAILURE_COST look-ups a
 * minute. IPv6 clients are counted per /64 (one host can own a whole /64). In memory, per instance, bounded
 * (src/util/ratelimit.ts). The per-token limit comes after authentication (src/api/http-server.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ipBytes } from '../util/ip.js';
import { RateLimiter } from '../util/ratelimit.js';

export const AUTH_FAILURE_COST = 10;
const MAX_ADDRESSES = 10_000;

/** The key an address is counted under: IPv4 itself (also inside ::ffff:), IPv6 its /64. */
export function addressKey(ip: string): string {
  const b = ipBytes(ip);
  if (!b || b.length === 4) return ip;
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) return b.slice(12).join('.');
  const groups = [0, 2, 4, 6].map((i) => ((b[i]! << 8) | b[i + 1]!).toString(16));
  return `${groups.join(':')}::/64`;
}

export interface AddressGate {
  /** onRequest hook: 429 with Retry-After when the address has used its requests. */
  admit(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>;
  /** A failed authentication from this request's address: it costs AUTH_FAILURE_COST requests in all. */
  failed(req: FastifyRequest): void;
}

export function addressGate(perMinute: number, now: () => number = Date.now): AddressGate {
  const limiter = new RateLimiter(perMinute / 60, perMinute, MAX_ADDRESSES, now);
  const retryAfter = String(Math.max(1, Math.ceil(60 / perMinute)));
  return {
    async admit(req, reply) {
      if (limiter.take(addressKey(req.ip))) return undefined;
      return reply.code(429).header('retry-after', retryAfter).type('application/json; charset=utf-8').send({
        error: { code: 'rate_limited', message: `more than ${perMinute} requests per minute from this address (a failed authentication counts as ${AUTH_FAILURE_COST}); retry after ${retryAfter} s` },
      });
    },
    failed(req) {
      limiter.charge(addressKey(req.ip), AUTH_FAILURE_COST - 1);
    },
  };
}
