/**
 * Rate decks: import (every row validated first; any bad row and nothing is written, every bad row is listed with
 * its line number), export as the same CSV, and the list of plans. The CLI reads a file, the API an upload; both
 * come here, so the row rules are the same.
 */
import type { Readable } from 'node:stream';
import { exportRates, readRateCsv, RATE_PLAN_NAME, writeRateDeck, type ImportResult } from '../rates-import/import.js';
import { recordAudit } from '../store/audit.js';
import { ratePlanIdByName, ratePlansWithCounts } from '../store/rates.js';
import type { Actor, ServiceDeps } from './context.js';
import { requireStaff, requireWriter, tx } from './common.js';
import { InputError, NotFoundError } from './errors.js';

interface RatePlan {
  id: bigint;
  name: string;
  entries: number;
  tenants: number;
}

function checkPlan(name: string): string {
  if (!RATE_PLAN_NAME.test(name)) throw new InputError('plan', 'use 1-64 of A-Z a-z 0-9 _ . -');
  return name;
}

/** A result with ok=false (nothing written, errors listed) or ok=true (imported in one transaction, audited). */
export async function importRateDeck(
  deps: ServiceDeps, actor: Actor,
  input: { plan: string; source: string | Readable; createPlan?: boolean; replace?: boolean; progress?: (m: string) => void },
): Promise<ImportResult> {
  requireWriter(actor, 'importing a rate deck');
  const plan = checkPlan(input.plan);
  const parsed = await readRateCsv(input.source, input.progress);
  if (parsed.errorCount > 0) {
    return { ok: false, plan, rows: parsed.total, imported: 0, errors: parsed.errors, errorCount: parsed.errorCount, created: false, replaced: 0 };
  }
  return tx(deps, async (c) => {
    const r = await writeRateDeck(c, parsed, { plan, createPlan: input.createPlan === true, replace: input.replace === true, progress: input.progress }).catch((e: Error) => {
      throw e instanceof RangeError && /^no rate plan/.test(e.message) ? new NotFoundError(e.message) : e;
    });
    await recordAudit(c, { actor, action: 'rates.import', targetType: 'rate_plan', targetId: plan, detail: { rows: r.rows, imported: r.imported, created: r.created, replaced: r.replaced } });
    return r;
  });
}

/** Stream a plan's deck as CSV through `write`; returns the row count. */
export async function exportRateDeck(deps: ServiceDeps, actor: Actor, plan: string, write: (chunk: string) => Promise<void>): Promise<number> {
  requireStaff(actor, 'rate decks');
  const name = checkPlan(plan);
  if ((await ratePlanIdByName(deps.pool, name)) === null) throw new NotFoundError(`no rate plan ${JSON.stringify(name)}`);
  return exportRates(deps.pool, name, write);
}

export async function listRatePlans(deps: ServiceDeps, actor: Actor): Promise<RatePlan[]> {
  requireStaff(actor, 'rate plans');
  return ratePlansWithCounts(deps.pool);
}
