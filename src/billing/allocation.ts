/**
 * Which receivables a payment settles (no I/O). Oldest first - earliest due, then earliest issued, then lowest id -
 * as the Civil Code (art. 560) settles an undesignated payment on the debt due first; a payment that names its
 * receivables (e.g. `order pay`) settles those, in the same order.
 */
interface Open {
  id: bigint;
  dueAt: Date;
  issuedAt: Date;
  outstandingFen: bigint;
}

export function oldestFirst<T extends Open>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || a.issuedAt.getTime() - b.issuedAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Split amountFen over the open receivables, oldest first; leftover > 0 when the payment is more than is owed. */
export function allocate(amountFen: bigint, open: readonly Open[]): { allocations: { id: bigint; amountFen: bigint }[]; leftoverFen: bigint } {
  if (amountFen <= 0n) throw new RangeError('payment amount must be > 0');
  let left = amountFen;
  const allocations: { id: bigint; amountFen: bigint }[] = [];
  for (const r of oldestFirst(open)) {
    if (left === 0n) break;
    if (r.outstandingFen <= 0n) continue;
    const take = r.outstandingFen < left ? r.outstandingFen : left;
    allocations.push({ id: r.id, amountFen: take });
    left -= take;
  }
  return { allocations, leftoverFen: left };
}
