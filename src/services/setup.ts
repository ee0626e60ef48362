/** Setting up a database: the schema migrations (`softswitch migrate`) and the contract's demo data (`demo seed`). */
import { migrate, type MigrationResult } from '../db/migrate.js';
import { seedDemo, type SeedResult } from '../demo/seed.js';
import type { Actor, ServiceDeps } from './context.js';
import { requireWriter } from './common.js';

export { DEMO } from '../demo/seed.js';

/** Apply the pending migrations in order (already applied ones are skipped). */
export async function migrateSchema(deps: ServiceDeps, actor: Actor): Promise<MigrationResult> {
  requireWriter(actor, 'migrating the schema');
  return migrate(deps.pool);
}

/**
 * Migrate, then seed the contract's sample order (idempotent); Redis follows when it can be reached (redisError says
 * why not when it cannot).
 */
export async function seedDemoData(deps: ServiceDeps, actor: Actor): Promise<SeedResult & { redisError: string | null }> {
  requireWriter(actor, 'seeding the demo data');
  await migrate(deps.pool);
  const { redis, error } = await deps.redis();
  const r = await seedDemo(deps.pool, redis, { timeZone: deps.config.service.timezone, actor });
  return { ...r, redisError: redis ? null : error };
}
