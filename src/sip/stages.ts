/**
 * The request stages of an INVITE that passed the door (ingress.ts), as named functions. app.ts lists them in its
 * one chain (STAGES) and runs them in order: a stage returns a Rejection to stop the call, or null to let it go on.
 * A stage may throw when a store fails: the chain then refuses with 503 store_down "<stage name> unavailable", so a
 * stage's function name is part of the CDR text (keep the names). The decisions themselves are pure (decisions.ts);
 * a stage only gathers their facts and records what it learnt in the context and the session's CDR facts.
 *
 * Invariants:
 * - a stage runs only with ctx.session and ctx.trunk set; every stage after identifyCaller only when it passed, i.e.
 *   with ctx.tenant and ctx.callerE164 set (and the session's tenant the same);
 * - checkLimits marks the session admitted only when Redis gave it a slot, so the slot is released by its end path
 *   exactly then;
 * - authorize marks the session granted only on the charging engine's grant, for the tenant the CDR names: a call
 *   reaches a gateway only after that (routing.ts asserts it).
 */
import assert from 'node:assert';
import type { ChargingEngine } from '../charging/types.js';
import type { Config } from '../config/config.js';
import type { CallContext } from './call-context.js';
import * as decide from './decisions.js';
import type { Rejection } from './decisions.js';
import type { Directory } from './directory.js';
import type { Limits } from './limits.js';
import { e164Digits, toE164, userPart } from './normalize.js';

/** What the stages need, built once per app (app.ts). */
export interface StageDeps {
  readonly config: Pick<Config, 'sip' | 'service'>;
  readonly directory: Pick<Directory, 'numberOwner'>;
  readonly limits: Pick<Limits, 'spentToday' | 'admit'>;
  readonly charging: Pick<ChargingEngine, 'authorize'>;
  /** true once the instance drains or closes: new calls are refused */
  readonly draining: boolean;
}

export type Stage = (ctx: CallContext, deps: StageDeps) => Promise<Rejection | null> | Rejection | null;

/** Caller ID (P-Asserted-Identity or From, per CALLER_ID_SOURCE) → E.164 → the tenant holding it, active. */
export async function identifyCaller(ctx: CallContext, deps: StageDeps): Promise<Rejection | null> {
  const { req } = ctx;
  const fromUser = userPart(req.getParsedHeader('From').uri);
  const pai = req.get('P-Asserted-Identity');
  const raw = deps.config.sip.callerIdSource === 'pai' && pai ? userPart(pai) : fromUser;
  ctx.callerE164 = toE164(raw);
  ctx.session!.facts.caller = ctx.callerE164 ?? raw;
  const owner = ctx.callerE164 ? await deps.directory.numberOwner(ctx.callerE164) : null;
  const r = decide.checkCaller(ctx.callerE164, owner, ctx.now);
  if (owner?.tenant) {
    ctx.tenant = owner.tenant;
    ctx.session!.facts.tenantId = owner.tenant.id;
    ctx.log.setBindings({ tenant: owner.tenant.code }); // the per-call child itself: a child of it would be one more object per call
  }
  return r;
}

/** A draining instance takes no new call; checked once the tenant is known, so the refusal's CDR names it. */
export function checkDraining(_ctx: CallContext, deps: StageDeps): Rejection | null {
  return deps.draining ? decide.draining() : null;
}

/** The callee (request URI) → E.164: a valid destination the tenant may call, inside its calling hours. */
export function checkDestinationAndTime(ctx: CallContext, deps: StageDeps): Rejection | null {
  const t = ctx.tenant!;
  const raw = userPart(ctx.req.uri);
  ctx.calleeE164 = toE164(raw);
  ctx.session!.facts.callee = ctx.calleeE164 ?? raw;
  return decide.checkDestination(ctx.calleeE164, t) ?? decide.checkHours(t, ctx.now, deps.config.service.timezone);
}

/** The daily spend cap, then concurrency + CPS in one Redis step; Redis down follows the trunk's failure policy. */
export async function checkLimits(ctx: CallContext, deps: StageDeps): Promise<Rejection | null> {
  const t = ctx.tenant!;
  try {
    if (t.dailySpendCapFen !== null) {
      const r = decide.checkSpendCap(t, await deps.limits.spentToday(t.id, ctx.now));
      if (r) return r;
    }
    const a = await deps.limits.admit(t.id, ctx.session!.callId, t.maxConcurrent, t.maxCps, ctx.now);
    if (a === 'ok') ctx.session!.markAdmitted();
    return decide.admissionRejection(a, t);
  } catch (err) {
    // limits live in the same Redis as balances: follow the trunk's failure policy
    ctx.log.error({ err }, 'limits store unavailable');
    return ctx.trunk!.failurePolicy === 'continue' ? null : decide.storeDown('limits store unavailable');
  }
}

/** Rate + balance in one atomic step of the charging engine (which times itself); a grant marks the session. */
export async function authorize(ctx: CallContext, deps: StageDeps): Promise<Rejection | null> {
  const s = ctx.session!;
  const t = ctx.tenant!;
  // the reservation is the CDR's tenant's: a mix-up here would charge one tenant for another's call
  assert.strictEqual(t.id, s.tenantId, 'authorize: the tenant to charge is not the tenant of the call');
  const a = await deps.charging.authorize({
    callId: s.callId, tenantId: t.id, calledNumber: e164Digits(ctx.calleeE164!), at: ctx.now, failurePolicy: ctx.trunk!.failurePolicy,
  });
  if (!a.ok) return decide.refusalRejection(a.reason, a.detail);
  s.markGranted();
  return null;
}
