/** Building the CDR of a call from the SIP facts and what the engine billed. Pure. */
import type { AppliedRate, CallFacts, CdrRecord } from '../cdr/types.js';
import { billableSeconds, chargeFen, durationSeconds } from '../rating/charge.js';

/**
 * The billed duration is the talk time capped at the granted seconds: the engine cuts the call at grant end, and
 * any signalling delay past it is ours, never the tenant's (this cap is what makes charge <= reservation).
 * The CDR's durationMs is this billed duration, so re-rating the CDR reproduces its charge exactly.
 */
/** Free text from the far end (a carrier's reason phrase, even an empty one): printable, short, or null, so the
 * outbox validator always takes it. */
function cdrText(s: string | null): string | null {
  const t = s === null ? '' : s.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, 200);
  return t === '' ? null : t;
}

export function billCall(facts: CallFacts, rate: AppliedRate | null, grantedSeconds: number, instanceId: string): CdrRecord {
  const talkMs = facts.answerAt !== null && facts.result === 'answered' ? Math.max(0, facts.endAt - facts.answerAt) : 0;
  const durationMs = Math.min(talkMs, grantedSeconds * 1000);
  const s = durationSeconds(durationMs);
  return {
    ...facts,
    disconnectReason: cdrText(facts.disconnectReason),
    billableSeconds: rate ? billableSeconds(s, rate) : 0,
    durationMs,
    rate,
    chargeFen: rate ? chargeFen(rate, s).toString() : '0',
    instanceId,
  };
}
