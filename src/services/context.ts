/**
 * What every service operation runs with. The CLI, the HTTP API and the portal build one of these and call the
 * same operation functions (src/services/*), so no business rule is written twice: parsing and printing stay in
 * the interface, rules and I/O order stay in the operation.
 */
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { ChargingRedis } from '../charging/redis.js';
import type { HostResolver } from '../notify/webhook-target.js';
import type { ActorKind } from '../store/audit.js';
import type { Logger } from '../util/logger.js';

/** Who asks. Operator writes are audited with it (src/store/audit.ts). */
export interface Actor {
  kind: ActorKind;
  /** token id, OS user, job name: never a secret */
  id: string;
  /** set for kind 'tenant': the only tenant this actor may see */
  tenantId?: bigint;
  /** an operator that may read everything and change nothing (API role operator-read) */
  readOnly?: boolean;
}

export interface ServiceDeps {
  config: Config;
  pool: Pool;
  /** The charging Redis, or null with the reason when it cannot be reached (PostgreSQL work goes on). */
  redis(): Promise<{ redis: ChargingRedis | null; error: string | null }>;
  logger: Logger;
  /** The clock of business rules (tests pass a fake one); never Date.now() inside an operation. */
  now(): Date;
  /** How webhook host names are resolved when a webhook URL is set (default the system resolver; tests answer chosen addresses). */
  resolveHost?: HostResolver;
}
