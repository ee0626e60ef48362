/**
 * The edge's door settings from the config object (SIP_UNKNOWN_SOURCE, SIP_SOURCE_RATE_LIMIT, SIP_TCP_*), and the
 * allow-list fed from PostgreSQL: what the composition root (and an edge process of its own) passes to startEdge.
 */
import type { Config } from '../config/config.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../util/logger.js';
import type { EdgeOptions } from './index.js';
import { SourceAllowList } from './sources.js';
import { startSourceRefresh, type SourceRefresh } from './sources-pg.js';

export function doorOptions(config: Config): Pick<EdgeOptions, 'unknownSource' | 'sourceRateLimit' | 'tcp'> {
  const e = config.edge;
  return {
    unknownSource: e.unknownSource,
    sourceRateLimit: e.sourceRateLimit,
    tcp: { maxConnections: e.tcpMaxConnections, maxPerAddress: e.tcpMaxPerAddress, idleMs: e.tcpIdleSeconds * 1000, readMs: e.tcpReadSeconds * 1000 },
  };
}

/** The allow-list, loaded once from PostgreSQL before the edge listens (start-up fails if it cannot be read). */
export async function pgSources(pool: Pool, config: Config, logger: Logger): Promise<{ sources: SourceAllowList; refresh: SourceRefresh }> {
  const sources = new SourceAllowList();
  const refresh = await startSourceRefresh({ pool, list: sources, logger, intervalMs: config.edge.sourcesRefreshSeconds * 1000 });
  return { sources, refresh };
}
