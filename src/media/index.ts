/**
 * Announcements for the SIP app, built from config.media: null when MEDIA_SERVER is empty (no media server,
 * calls behave as without this module). The SIP app calls two things:
 *   beforeRefusal(req, res, rejection, tenant, log)  plays the rejection's prompt as early media, if it has one
 *   lowCredit(tenant)                                 the tenant's low-credit warning for CallSession.connected()
 */
import type { Config } from '../config/config.js';
import type { AnnouncementResult } from '../observability/metrics.js';
import type { LowCreditAnnouncer } from '../sip/call-session.js';
import type { Rejection } from '../sip/decisions.js';
import type { TenantInfo } from '../sip/directory.js';
import type { SrfRequest, SrfResponse, TypedSrf } from '../sip/srf-types.js';
import type { Logger } from '../util/logger.js';
import { createAnnouncer, type Announcer } from './announcer.js';
import { startMediaPool, type MediaPool } from './pool.js';
import { DEFAULT_LANGUAGE } from './prompts.js';

export interface Media {
  pool: MediaPool;
  announcer: Announcer;
  /** Play the rejection's prompt before the caller gets it (early media); resolves when done or skipped. */
  beforeRefusal(req: SrfRequest, res: SrfResponse, r: Rejection, tenant: TenantInfo | null, log: Logger): Promise<AnnouncementResult | null>;
  /** The low-credit warning of a tenant's calls, or undefined when the tenant has it off. */
  lowCredit(tenant: TenantInfo, log: Logger): LowCreditAnnouncer | undefined;
  close(): Promise<void>;
}

/** The SIP servers the app is connected to (src/sip/servers.ts SipServers), or one srf. */
type SipVia = TypedSrf | { pick(): { srf: TypedSrf } | null };

/**
 * drachtio-fsmrf sends its INVITEs to FreeSWITCH with the srf it was given; with several drachtio servers that is
 * one that is up at the time (the media path does not depend on it: FreeSWITCH and the caller exchange RTP directly).
 */
function srfFor(via: SipVia): TypedSrf {
  if (!('pick' in via)) return via;
  const createUAC = (...args: unknown[]): unknown => {
    const s = via.pick();
    if (!s) return Promise.reject(new Error('no drachtio server up'));
    return (s.srf as unknown as { createUAC(...a: unknown[]): unknown }).createUAC(...args);
  };
  return { createUAC } as unknown as TypedSrf;
}

interface StartMediaOptions {
  /** The embedded edge's source allow-list: the media servers' addresses go into its 'media' group. */
  sources?: { set(group: string, entries: readonly string[]): string[] } | null;
}

export function startMedia(via: SipVia, config: Config, logger: Logger, opts: StartMediaOptions = {}): Media | null {
  const c = config.media;
  if (c.servers.length === 0) return null;
  const srf = srfFor(via);
  const onSipHosts = opts.sources
    ? (hosts: string[]) => {
        const ignored = opts.sources!.set('media', hosts);
        // a host name (not an IPv4 address) cannot be allowed: its SIP would be dropped at the door
        if (ignored.length) logger.warn({ ignored }, 'media server addresses not added to the SIP source allow-list (IPv4 addresses only)');
      }
    : undefined;
  const pool = startMediaPool({
    srf, servers: c.servers, listenAddress: c.listenAddress, advertisedAddress: c.advertisedAddress,
    timeoutMs: c.timeoutMs, reconnectMs: c.reconnectSeconds * 1000, logger, ...(onSipHosts ? { onSipHosts } : {}),
  });
  const announcer = createAnnouncer({ pool, promptsDir: c.promptsDir, timeoutMs: c.timeoutMs, promptMaxSeconds: c.promptMaxSeconds, logger });
  const leadMs = c.warningSeconds * 1000;
  return {
    pool,
    announcer,
    async beforeRefusal(req, res, r, tenant, log) {
      if (!r.prompt || res.finalResponseSent) return null;
      return announcer.refusal({ req, res, prompt: r.prompt, language: tenant?.announcementLanguage ?? DEFAULT_LANGUAGE, log });
    },
    lowCredit(tenant, log) {
      if (!tenant.lowCreditWarning) return undefined;
      return { leadMs, warn: (uas, uac, signal) => announcer.warning({ uas, uac, signal, language: tenant.announcementLanguage, log }) };
    },
    close: () => pool.close(),
  };
}
