/**
 * A payment dated before late fees already posted for later days (money received on the 12th, recorded on the 16th
 * after the late-fee job charged the 13th-16th), no I/O. The late fee of a day runs on what was outstanding at that
 * day's start (src/billing/late-fee.ts), so a payment that covered the debt before then makes the fee of those days
 * too high: the difference is taken back (by a correcting transfer, never an edit of the posted fee).
 *
 * The payment's allocation (oldest first) and the reversals depend on each other: a late fee taken back is owed no
 * more, so less of the payment goes to it and more to what comes after it, which may take back more. Allocation and
 * reversals are repeated until neither changes; each round can only add to the reversals (a smaller receivable
 * earlier in the order leaves more for the later ones), so this ends after a few rounds.
 */
import { allocate } from './allocation.js';
import { lateFeeDays } from './late-fee.js';
import { startOfDay } from '../calendar/zone.js';

interface Rec {
  id: bigint;
  kind: string;
  amountFen: bigint;
  reversedFen: bigint;
  outstandingFen: bigint;
  dueAt: Date;
  issuedAt: Date;
  accruesLateFee: boolean;
  parentId: bigint | null;
  feeDay: string | null;
}

interface Plan {
  allocations: { id: bigint; amountFen: bigint }[];
  leftoverFen: bigint;
  /** per late-fee receivable (ascending id): the fen to take back, and its day */
  reversals: { receivableId: bigint; day: string; amountFen: bigint }[];
}

const MAX_ROUNDS = 20;

/**
 * What a payment of `amountFen` received at `receivedAt` settles among `open` (the receivables it may settle), and
 * which posted late fees of the tenant's receivables (`all`) it makes too high. `paid` are the earlier payments'
 * allocations (receivable, time received, amount). A late fee already paid beyond its corrected amount is taken back
 * only as far as it is still outstanding.
 */
export function planPayment(
  amountFen: bigint, receivedAt: Date, open: readonly Rec[], all: readonly Rec[],
  paid: readonly { receivableId: bigint; receivedAt: Date; amountFen: bigint }[], timeZone: string,
): Plan {
  let back = new Map<bigint, bigint>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const view = open.map((r) => ({ ...r, outstandingFen: r.outstandingFen - (back.get(r.id) ?? 0n) }));
    const { allocations, leftoverFen } = allocate(amountFen, view);
    const next = overcharges(allocations, receivedAt, all, paid, timeZone);
    if (sameMap(next, back)) {
      const byId = new Map(all.map((r) => [r.id, r]));
      const reversals = [...back].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, fen]) => ({ receivableId: id, day: byId.get(id)!.feeDay!, amountFen: fen }));
      return { allocations, leftoverFen, reversals };
    }
    back = next;
  }
  throw new Error(`allocation and late-fee reversals of a payment did not settle in ${MAX_ROUNDS} rounds`);
}

/** The late fee (by receivable id) each posted late-fee day should give back, given this payment's allocations. */
function overcharges(
  allocations: { id: bigint; amountFen: bigint }[], receivedAt: Date, all: readonly Rec[],
  paid: readonly { receivableId: bigint; receivedAt: Date; amountFen: bigint }[], timeZone: string,
): Map<bigint, bigint> {
  const out = new Map<bigint, bigint>();
  for (const a of allocations) {
    const parent = all.find((r) => r.id === a.id)!;
    if (!parent.accruesLateFee) continue;
    const fees = all.filter((r) => r.kind === 'late_fee' && r.parentId === parent.id && r.feeDay !== null);
    if (fees.length === 0) continue;
    const payments = [...paid.filter((p) => p.receivableId === parent.id).map((p) => ({ at: p.receivedAt, amountFen: p.amountFen })), { at: receivedAt, amountFen: a.amountFen }];
    const lastDay = fees.reduce((d, f) => (f.feeDay! > d ? f.feeDay! : d), fees[0]!.feeDay!);
    const owed = new Map(lateFeeDays(parent, payments, startOfDay(lastDay, timeZone), timeZone).map((d) => [d.day, d.feeFen]));
    for (const f of fees) {
      const over = f.amountFen - f.reversedFen - (owed.get(f.feeDay!) ?? 0n);
      const take = over < f.outstandingFen ? over : f.outstandingFen;
      if (take > 0n) out.set(f.id, take);
    }
  }
  return out;
}

function sameMap(a: Map<bigint, bigint>, b: Map<bigint, bigint>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}
