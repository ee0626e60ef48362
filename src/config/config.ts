/**
 * The one typed, validated configuration object, built once at start-up from `config/default.json`
 * plus environment overrides. Nothing else in the code reads `process.env`.
 *
 * Each setting is declared once in SETTINGS below (path, env var, type, default source, what is allowed);
 * the README's configuration table is that list. Invalid input stops start-up with a ConfigError that
 * names the key, the value and what is allowed.
 */
import { readFileSync } from 'node:fs';
import { ipBytes } from '../util/ip.js';
import { projectPath } from '../util/paths.js';

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
    /** a secret's value is never put in the message (it goes to stderr and logs) */
    secret = false,
  ) {
    super(`invalid configuration ${key}=${secret ? '<secret, not shown>' : JSON.stringify(value)}: allowed ${allowed}`);
    this.name = 'ConfigError';
    if (secret) this.value = '<secret, not shown>';
  }
}

type Kind =
  | { type: 'string'; pattern?: RegExp; allowed?: string }
  | { type: 'int'; min: number; max: number }
  | { type: 'bool' }
  | { type: 'auto-bool' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'list'; pattern?: RegExp; allowed?: string; optional?: boolean };

export interface Setting {
  path: string;
  env: string;
  kind: Kind;
  doc: string;
  /** never printed: not in errors, not in configForLog() */
  secret?: boolean;
}

/** drachtio-server's public default secret: refused toward an external server. */
const PUBLIC_DRACHTIO_SECRET = 'cymru';

const HOST = /^[A-Za-z0-9.:\-[\]]+$/;
const HOST_PORT = /^[A-Za-z0-9.\-]+:[0-9]{1,5}$|^\[[0-9A-Fa-f:.]+\]:[0-9]{1,5}$/;

/** Every setting of the product. Order = README table order. */
export const SETTINGS: readonly Setting[] = [
  { path: 'log.level', env: 'LOG_LEVEL', kind: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }, doc: 'pino log level' },
  { path: 'http.host', env: 'HTTP_HOST', kind: { type: 'string', pattern: HOST, allowed: 'a host name or IP' }, doc: 'address of the HTTP API, /metrics, /healthz, /readyz' },
  { path: 'http.port', env: 'HTTP_PORT', kind: { type: 'int', min: 0, max: 65535 }, doc: 'HTTP port (0 = any free port)' },
  { path: 'postgres.url', env: 'DATABASE_URL', kind: { type: 'string', pattern: /^postgres(ql)?:\/\//, allowed: 'a postgres:// URL' }, doc: 'PostgreSQL, the system of record' },
  { path: 'postgres.poolSize', env: 'DATABASE_POOL_SIZE', kind: { type: 'int', min: 1, max: 200 }, doc: 'PostgreSQL connection pool size' },
  { path: 'redis.url', env: 'REDIS_URL', kind: { type: 'string', pattern: /^rediss?:\/\//, allowed: 'a redis:// URL' }, doc: 'Redis, the real-time balance store' },
  { path: 'redis.keyPrefix', env: 'REDIS_KEY_PREFIX', kind: { type: 'string', pattern: /^[A-Za-z0-9:_\-]{1,64}$/, allowed: '1-64 chars of A-Za-z0-9:_-' }, doc: 'prefix of every Redis key this instance uses' },
  { path: 'redis.mode', env: 'REDIS_MODE', kind: { type: 'enum', values: ['standalone', 'sentinel', 'cluster'] }, doc: 'Redis topology: one server at REDIS_URL, a master found through Sentinel (REDIS_SENTINELS), or Redis Cluster (REDIS_CLUSTER_NODES); docs/scaling.md' },
  { path: 'redis.sentinels', env: 'REDIS_SENTINELS', kind: { type: 'list', pattern: HOST_PORT, allowed: 'comma list of host:port', optional: true }, doc: 'sentinel mode: the Sentinels to ask for the master (required then)' },
  { path: 'redis.sentinelMaster', env: 'REDIS_SENTINEL_MASTER', kind: { type: 'string', pattern: /^[A-Za-z0-9._\-]{1,64}$/, allowed: '1-64 chars of A-Za-z0-9._-' }, doc: 'sentinel mode: the master name the Sentinels monitor' },
  { path: 'redis.clusterNodes', env: 'REDIS_CLUSTER_NODES', kind: { type: 'list', pattern: HOST_PORT, allowed: 'comma list of host:port', optional: true }, doc: 'cluster mode: some nodes of the Redis Cluster to discover it from (required then)' },
  { path: 'redis.password', env: 'REDIS_PASSWORD', kind: { type: 'string', pattern: /^\S{0,256}$/, allowed: 'empty or up to 256 non-space characters' }, doc: 'password of the Redis data nodes in sentinel and cluster mode (standalone: put it in REDIS_URL)', secret: true },
  { path: 'redis.shards', env: 'REDIS_SHARDS', kind: { type: 'int', min: 1, max: 1024 }, doc: 'number of key shards (hash tags {s0}..): every instance and the CLI must agree; change only as docs/scaling.md says' },
  { path: 'redis.waitReplicas', env: 'REDIS_WAIT_REPLICAS', kind: { type: 'int', min: -1, max: 8 }, doc: 'replicas that must have a charging step (authorize, extend, settle) before the app acts on it (WAIT); -1 = 0 in standalone, 1 in sentinel and cluster mode' },
  { path: 'redis.waitTimeoutMs', env: 'REDIS_WAIT_TIMEOUT_MS', kind: { type: 'int', min: 1, max: 10000 }, doc: 'longest a charging step waits for its replicas; past it the step stands on the master alone (counted, docs/scaling.md)' },
  { path: 'drachtio.servers', env: 'DRACHTIO_SERVERS', kind: { type: 'list', pattern: HOST_PORT, allowed: 'empty or a comma list of host:port', optional: true }, doc: 'several external drachtio-servers (control ports); the app takes calls from all of them (docs/scaling.md). Empty = DRACHTIO_HOST/DRACHTIO_PORT, or the embedded edge when that is empty too' },
  { path: 'drachtio.host', env: 'DRACHTIO_HOST', kind: { type: 'string', pattern: /^([A-Za-z0-9.:\-[\]]+)?$/, allowed: 'empty (embedded edge) or a host' }, doc: 'external drachtio-server; empty = start the embedded SIP edge' },
  { path: 'drachtio.port', env: 'DRACHTIO_PORT', kind: { type: 'int', min: 1, max: 65535 }, doc: 'drachtio control port (app ⇄ server)' },
  { path: 'drachtio.secret', env: 'DRACHTIO_SECRET', kind: { type: 'string', pattern: /^\S+$/, allowed: 'a non-empty secret' }, doc: 'secret shared with an external drachtio-server (DRACHTIO_HOST); the public default `cymru` is refused unless DRACHTIO_ALLOW_DEFAULT_SECRET. The embedded edge ignores it: app and edge share a random secret made at each start', secret: true },
  { path: 'drachtio.allowDefaultSecret', env: 'DRACHTIO_ALLOW_DEFAULT_SECRET', kind: { type: 'bool' }, doc: 'accept the public default secret `cymru` toward an external drachtio-server (anyone who reaches its control port could then place calls)' },
  { path: 'edge.sipHost', env: 'SIP_HOST', kind: { type: 'string', pattern: HOST, allowed: 'an IP address' }, doc: 'embedded edge: SIP listen address' },
  { path: 'edge.sipPort', env: 'SIP_PORT', kind: { type: 'int', min: 1, max: 65535 }, doc: 'embedded edge: SIP listen port (UDP and TCP)' },
  { path: 'edge.transports', env: 'SIP_TRANSPORTS', kind: { type: 'list', pattern: /^(udp|tcp)$/, allowed: 'comma list of udp,tcp' }, doc: 'embedded edge: SIP transports' },
  { path: 'edge.unknownSource', env: 'SIP_UNKNOWN_SOURCE', kind: { type: 'enum', values: ['drop', 'reject'] }, doc: 'embedded edge: what SIP from an address that is no enabled trunk, gateway or dialog peer gets: nothing (drop) or one stateless 403 (reject, at most 100/s in total)' },
  { path: 'edge.sourceRateLimit', env: 'SIP_SOURCE_RATE_LIMIT', kind: { type: 'int', min: 0, max: 1_000_000 }, doc: 'embedded edge: SIP messages per second one source address may send; more are dropped (0 = no limit)' },
  { path: 'edge.sourcesRefreshSeconds', env: 'SIP_SOURCES_REFRESH_SECONDS', kind: { type: 'int', min: 1, max: 3600 }, doc: 'embedded edge: how often the source allow-list (trunks, gateways) is re-read from PostgreSQL; changes also apply at once (LISTEN)' },
  { path: 'edge.tcpMaxConnections', env: 'SIP_TCP_MAX_CONNECTIONS', kind: { type: 'int', min: 1, max: 1_000_000 }, doc: 'embedded edge: inbound SIP TCP connections at once; more are closed at once' },
  { path: 'edge.tcpMaxPerAddress', env: 'SIP_TCP_MAX_PER_ADDRESS', kind: { type: 'int', min: 1, max: 100_000 }, doc: 'embedded edge: inbound SIP TCP connections from one address at once' },
  { path: 'edge.tcpIdleSeconds', env: 'SIP_TCP_IDLE_SECONDS', kind: { type: 'int', min: 5, max: 86_400 }, doc: 'embedded edge: a SIP TCP connection without traffic for this long is closed' },
  { path: 'edge.tcpReadSeconds', env: 'SIP_TCP_READ_SECONDS', kind: { type: 'int', min: 1, max: 600 }, doc: 'embedded edge: a SIP message over TCP must be complete this long after its first byte (and a new connection must send one): slow peers are cut' },
  { path: 'sip.callerIdSource', env: 'CALLER_ID_SOURCE', kind: { type: 'enum', values: ['pai', 'from'] }, doc: 'where the calling number is read: P-Asserted-Identity (falls back to From) or From' },
  { path: 'sip.userAgent', env: 'SIP_USER_AGENT', kind: { type: 'string', pattern: /^.{1,100}$/, allowed: '1-100 characters' }, doc: 'Server/User-Agent header value' },
  { path: 'sip.gatewayTimeoutSeconds', env: 'SIP_GATEWAY_TIMEOUT_SECONDS', kind: { type: 'int', min: 1, max: 60 }, doc: 'seconds without any response from a carrier gateway before its INVITE is cancelled and the next gateway is tried' },
  { path: 'sip.cancelTimeoutSeconds', env: 'SIP_CANCEL_TIMEOUT_SECONDS', kind: { type: 'int', min: 1, max: 300 }, doc: 'after we CANCEL a carrier INVITE, how long to wait for its final response before the call ends anyway (RFC 3261 §9.1: 64·T1 = 32 s)' },
  { path: 'sip.sessionExpiresSeconds', env: 'SIP_SESSION_EXPIRES_SECONDS', kind: { type: 'int', min: 90, max: 7200 }, doc: 'RFC 4028 session interval asked of the carrier (it refreshes, refresher=uas); bounds how long a carrier leg outlives a dead instance (docs/sip.md)' },
  { path: 'sip.optionsPingSeconds', env: 'SIP_OPTIONS_PING_SECONDS', kind: { type: 'int', min: 0, max: 3600 }, doc: 'interval of OPTIONS pings to carrier gateways (0 = off)' },
  { path: 'sip.workers', env: 'SIP_WORKERS', kind: { type: 'int', min: 0, max: 64 }, doc: 'call-control worker threads next to the embedded edge (0 = one per CPU core; 1 = edge and app in one thread, as with an external drachtio-server, which always uses one); docs/scaling.md' },
  { path: 'charging.rounding', env: 'CHARGE_ROUNDING', kind: { type: 'enum', values: ['up', 'down', 'half-up'] }, doc: 'rounding of each call charge to the fen' },
  { path: 'charging.consumptionOrder', env: 'BALANCE_CONSUMPTION_ORDER', kind: { type: 'enum', values: ['earliest-expiry', 'gift-first', 'paid-first'] }, doc: 'which balance bucket a charge draws first' },
  { path: 'charging.failurePolicy', env: 'FAILURE_POLICY', kind: { type: 'enum', values: ['terminate', 'continue'] }, doc: 'default RFC 4006 CCFH when Redis is down (per trunk override in DB)' },
  { path: 'charging.sliceSeconds', env: 'CHARGING_SLICE_SECONDS', kind: { type: 'int', min: 1, max: 3600 }, doc: 'largest reservation slice granted to a call' },
  { path: 'charging.leaseGraceSeconds', env: 'CHARGING_LEASE_GRACE_SECONDS', kind: { type: 'int', min: 1, max: 600 }, doc: 'how long past its grant a call of a dead instance is kept before it is reclaimed' },
  { path: 'charging.maxCallSeconds', env: 'CHARGING_MAX_CALL_SECONDS', kind: { type: 'int', min: 60, max: 86400 }, doc: 'longest a single call may last (its grant never goes past it)' },
  { path: 'charging.lowBalancePercent', env: 'LOW_BALANCE_PERCENT', kind: { type: 'int', min: 0, max: 100 }, doc: 'low-balance notice threshold, % of total prepaid (contract art. 2.2: 10)' },
  { path: 'service.timezone', env: 'SERVICE_TIMEZONE', kind: { type: 'string', pattern: /^[A-Za-z_]+\/[A-Za-z_]+$/, allowed: 'an IANA zone such as Asia/Shanghai' }, doc: 'zone of calling hours, service periods and bills' },
  { path: 'shutdown.drainSeconds', env: 'DRAIN_SECONDS', kind: { type: 'int', min: 0, max: 86400 }, doc: 'on SIGTERM/SIGINT, how long live calls may go on before they are cut' },
  { path: 'api.operatorToken', env: 'API_OPERATOR_TOKEN', kind: { type: 'string', pattern: /^([A-Za-z0-9._~+\/=-]{24,256})?$/, allowed: 'empty (operator API off) or 24-256 token characters' }, doc: 'operator-admin bootstrap bearer token of the HTTP API (issue real tokens with it; empty = none)', secret: true },
  { path: 'api.rateLimitPerMinute', env: 'API_RATE_LIMIT_PER_MINUTE', kind: { type: 'int', min: 1, max: 1000000 }, doc: 'HTTP API: requests per minute per token (per client address without a token) on each instance; more get 429' },
  { path: 'api.addressRateLimitPerMinute', env: 'API_ADDRESS_RATE_LIMIT_PER_MINUTE', kind: { type: 'int', min: 1, max: 1000000 }, doc: 'HTTP API: requests per minute from one client address (IPv6: per /64) on each instance, counted before the token is looked at; a failed authentication counts as 10; more get 429 (behind a reverse proxy every client has the proxy\'s address)' },
  { path: 'api.bodyLimitBytes', env: 'API_BODY_LIMIT_BYTES', kind: { type: 'int', min: 1024, max: 10485760 }, doc: 'HTTP API: largest JSON request body; larger gets 413' },
  { path: 'api.uploadLimitBytes', env: 'API_UPLOAD_LIMIT_BYTES', kind: { type: 'int', min: 1024, max: 1073741824 }, doc: 'HTTP API: largest rate deck CSV upload; larger gets 413' },
  { path: 'outbox.batchSize', env: 'OUTBOX_BATCH_SIZE', kind: { type: 'int', min: 1, max: 5000 }, doc: 'outbox consumer: most events written to PostgreSQL in one transaction (docs/outbox.md)' },
  { path: 'health.probeTimeoutMs', env: 'READINESS_PROBE_TIMEOUT_MS', kind: { type: 'int', min: 50, max: 30000 }, doc: '/readyz: a component probe slower than this counts as down' },
  { path: 'jobs.intervalSeconds', env: 'MAINTENANCE_INTERVAL_SECONDS', kind: { type: 'int', min: 5, max: 86400 }, doc: 'how often an instance reconciles read-only (drift gauges), checks low balances and sends tenant notices' },
  { path: 'jobs.schedulerEnabled', env: 'SCHEDULER_ENABLED', kind: { type: 'bool' }, doc: 'run the billing scheduler (rent, late fees, overdue suspension, reminders, period end, CDR partitions) in this instance; one instance at a time runs it (PostgreSQL lease)' },
  { path: 'jobs.schedulerTickSeconds', env: 'SCHEDULER_TICK_SECONDS', kind: { type: 'int', min: 1, max: 3600 }, doc: 'how often the scheduler looks for due job periods (and renews its lease)' },
  { path: 'billing.overdueSuspendDays', env: 'OVERDUE_SUSPEND_DAYS', kind: { type: 'int', min: 1, max: 365 }, doc: 'a tenant whose oldest unpaid receivable is overdue for more than this many days is suspended (live calls cut) until paid (art. 3.2)' },
  { path: 'billing.vatRatePercent', env: 'INVOICE_VAT_RATE_PERCENT', kind: { type: 'string', pattern: /^(0|[1-9][0-9]?)(\.[0-9]{1,2})?$/, allowed: 'a percentage 0-99.99, e.g. 9' }, doc: 'VAT rate printed on tax invoices (basic telecom services: 9)' },
  { path: 'billing.sellerName', env: 'INVOICE_SELLER_NAME', kind: { type: 'string', pattern: /^.{1,200}$/, allowed: '1-200 characters' }, doc: 'seller (Party B) name on invoices and statements' },
  { path: 'billing.sellerTaxId', env: 'INVOICE_SELLER_TAX_ID', kind: { type: 'string', pattern: /^[0-9A-Z]{0,20}$/, allowed: 'empty or a unified social credit code (up to 20 of 0-9 A-Z)' }, doc: 'seller tax id on invoices' },
  { path: 'billing.pdfFont', env: 'PDF_CJK_FONT', kind: { type: 'string', pattern: /^(\/\S+)?$/, allowed: 'empty (use fonts-wqy-zenhei or Noto CJK if installed) or an absolute font path (path#PostScriptName for a .ttc)' }, doc: 'CJK font of statement and invoice PDFs (tenants\' legal names are Chinese)' },
  { path: 'notify.webhookTimeoutMs', env: 'NOTIFY_WEBHOOK_TIMEOUT_MS', kind: { type: 'int', min: 100, max: 60000 }, doc: 'tenant notices: how long a webhook POST, an SMS provider request or each SMTP step (connect, greeting, reply) may take before the attempt counts as failed' },
  { path: 'notify.maxAttempts', env: 'NOTIFY_MAX_ATTEMPTS', kind: { type: 'int', min: 1, max: 100 }, doc: 'tenant notices: attempts of a webhook, e-mail or SMS with a passing failure (exponential backoff from 1 min, at most 6 h apart) before the notice is marked failed' },
  { path: 'notify.webhookAllowCidrs', env: 'NOTIFY_WEBHOOK_ALLOW_CIDRS', kind: { type: 'list', pattern: /^[0-9A-Fa-f:.]+(\/[0-9]{1,3})?$/, allowed: 'empty or a comma list of CIDRs (10.20.0.0/16, fd00::/8)', optional: true }, doc: 'tenant webhooks: private ranges tenants\' webhook URLs may point at (operator setting for receivers on a private network); empty = public addresses only (docs/security.md)' },
  { path: 'notify.smtpHost', env: 'SMTP_HOST', kind: { type: 'string', pattern: /^([A-Za-z0-9.:\-[\]]+)?$/, allowed: 'empty (no e-mail: notices wait for an operator) or a host name or IP' }, doc: 'tenant notices by e-mail: the SMTP server (nodemailer)' },
  { path: 'notify.smtpPort', env: 'SMTP_PORT', kind: { type: 'int', min: 1, max: 65535 }, doc: 'SMTP port (587 submission with STARTTLS, 465 implicit TLS, 25 relay)' },
  { path: 'notify.smtpSecurity', env: 'SMTP_SECURITY', kind: { type: 'enum', values: ['starttls', 'tls', 'none'] }, doc: 'SMTP transport security: starttls (upgrade required, refused without it), tls (TLS from the first byte, port 465) or none (plain text, for a relay on the same host or network only)' },
  { path: 'notify.smtpUser', env: 'SMTP_USER', kind: { type: 'string', pattern: /^\S{0,256}$/, allowed: 'empty (no authentication) or up to 256 non-space characters' }, doc: 'SMTP user name (AUTH); empty = send without authenticating' },
  { path: 'notify.smtpPassword', env: 'SMTP_PASSWORD', kind: { type: 'string', pattern: /^.{0,256}$/, allowed: 'up to 256 characters' }, doc: 'SMTP password (never logged)', secret: true },
  { path: 'notify.mailFrom', env: 'NOTIFY_MAIL_FROM', kind: { type: 'string', pattern: /^[^\s@<>,]+@[^\s@<>,]+$/, allowed: 'an e-mail address' }, doc: 'From address of tenant notice e-mails' },
  { path: 'notify.smsUrl', env: 'SMS_PROVIDER_URL', kind: { type: 'string', pattern: /^(https?:\/\/\S+)?$/, allowed: 'empty (no SMS: notices wait for an operator) or an http(s) URL' }, doc: 'tenant notices by SMS: the provider\'s HTTP endpoint, sent the SMS_TEMPLATE body' },
  { path: 'notify.smsMethod', env: 'SMS_PROVIDER_METHOD', kind: { type: 'enum', values: ['POST', 'PUT'] }, doc: 'HTTP method of the SMS provider request' },
  { path: 'notify.smsHeaders', env: 'SMS_PROVIDER_HEADERS', kind: { type: 'string', pattern: /^(\{.*\})?$/s, allowed: 'empty or a JSON object of header names to string values' }, doc: 'headers of the SMS provider request as a JSON object, e.g. {"Authorization":"Bearer …"} (secret: never logged)', secret: true },
  { path: 'notify.smsTemplate', env: 'SMS_TEMPLATE', kind: { type: 'string', pattern: /\{\{text\}\}/, allowed: 'a body with the {{text}} placeholder (and usually {{phone}})' }, doc: 'body of the SMS provider request; {{phone}} (the tenant\'s mobile number) and {{text}} (the notice) are replaced, JSON-escaped when SMS_CONTENT_TYPE is JSON, else URL-encoded' },
  { path: 'notify.smsContentType', env: 'SMS_CONTENT_TYPE', kind: { type: 'enum', values: ['application/json', 'application/x-www-form-urlencoded'] }, doc: 'Content-Type of the SMS provider request (decides how the placeholders are escaped)' },
  { path: 'media.servers', env: 'MEDIA_SERVER', kind: { type: 'list', pattern: /^[A-Za-z0-9.\-]+:\d{1,5}:[^,\s]+$/, allowed: 'empty (no announcements) or a comma list of host:port:secret (FreeSWITCH event sockets)', optional: true }, doc: 'FreeSWITCH media servers (drachtio-fsmrf) for refusal prompts and low-credit warnings; empty = none (calls get no announcements)', secret: true },
  { path: 'media.listenAddress', env: 'MEDIA_LISTEN_ADDRESS', kind: { type: 'string', pattern: HOST, allowed: 'an IP address' }, doc: 'address the app listens on for FreeSWITCH\'s outbound event-socket connections (one per announcement)' },
  { path: 'media.advertisedAddress', env: 'MEDIA_ADVERTISED_ADDRESS', kind: { type: 'string', pattern: /^([A-Za-z0-9.\-]+)?$/, allowed: 'empty (= MEDIA_LISTEN_ADDRESS) or a host' }, doc: 'address FreeSWITCH is told to connect back to (behind NAT or in containers)' },
  { path: 'media.timeoutMs', env: 'MEDIA_TIMEOUT_MS', kind: { type: 'int', min: 100, max: 10000 }, doc: 'bound of each media step (endpoint, re-INVITE, hang-up); a slower media server is skipped and counted' },
  { path: 'media.promptsDir', env: 'MEDIA_PROMPTS_DIR', kind: { type: 'string', pattern: /^(\/\S*)?$/, allowed: 'empty (the project\'s prompts/) or an absolute path' }, doc: 'folder of prompt files <language>/<prompt>.wav, as the media server sees it (`npm run prompts` makes the defaults)' },
  { path: 'media.promptMaxSeconds', env: 'MEDIA_PROMPT_MAX_SECONDS', kind: { type: 'int', min: 1, max: 60 }, doc: 'longest a prompt may play before it is cut off' },
  { path: 'media.reconnectSeconds', env: 'MEDIA_RECONNECT_SECONDS', kind: { type: 'int', min: 1, max: 300 }, doc: 'interval of reconnection attempts to a media server that is down' },
  { path: 'media.warningSeconds', env: 'WARNING_SECONDS', kind: { type: 'int', min: 5, max: 600 }, doc: 'low-credit warning: played to the caller this long before a call\'s credit runs out (tenants with the warning on)' },
  { path: 'runtime.nodeEnv', env: 'NODE_ENV', kind: { type: 'string', pattern: /^[A-Za-z0-9._-]{0,32}$/, allowed: 'production, or anything else (development)' }, doc: 'production = production mode (the Docker image and the systemd unit set it): DEMO_AUTO_SEED=auto seeds nothing; anything else is development' },
  { path: 'demo.autoSeed', env: 'DEMO_AUTO_SEED', kind: { type: 'auto-bool' }, doc: 'seed the contract\'s demo tenant at start when the database has no tenant; auto = only on the local development database (DATABASE_URL the default postgres://postgres@127.0.0.1:5432/softswitch and NODE_ENV not production), as `npm start` on a fresh machine' },
];

export interface Config {
  log: { level: string };
  http: { host: string; port: number };
  postgres: { url: string; poolSize: number };
  redis: {
    url: string;
    keyPrefix: string;
    mode: 'standalone' | 'sentinel' | 'cluster';
    sentinels: string[];
    sentinelMaster: string;
    clusterNodes: string[];
    password: string;
    shards: number;
    waitReplicas: number;
    waitTimeoutMs: number;
  };
  drachtio: { servers: string[]; host: string; port: number; secret: string; allowDefaultSecret: boolean };
  edge: {
    sipHost: string;
    sipPort: number;
    transports: ('udp' | 'tcp')[];
    unknownSource: 'drop' | 'reject';
    sourceRateLimit: number;
    sourcesRefreshSeconds: number;
    tcpMaxConnections: number;
    tcpMaxPerAddress: number;
    tcpIdleSeconds: number;
    tcpReadSeconds: number;
  };
  sip: { callerIdSource: 'pai' | 'from'; userAgent: string; gatewayTimeoutSeconds: number; cancelTimeoutSeconds: number; sessionExpiresSeconds: number; optionsPingSeconds: number; workers: number };
  charging: {
    rounding: 'up' | 'down' | 'half-up';
    consumptionOrder: 'earliest-expiry' | 'gift-first' | 'paid-first';
    failurePolicy: 'terminate' | 'continue';
    sliceSeconds: number;
    leaseGraceSeconds: number;
    maxCallSeconds: number;
    lowBalancePercent: number;
  };
  service: { timezone: string };
  shutdown: { drainSeconds: number };
  jobs: { intervalSeconds: number; schedulerEnabled: boolean; schedulerTickSeconds: number };
  billing: { overdueSuspendDays: number; vatRatePercent: string; sellerName: string; sellerTaxId: string; pdfFont: string };
  runtime: { nodeEnv: string };
  /** autoSeed as set: true, false or auto (decided by seedDemoOnStart) */
  demo: { autoSeed: boolean | 'auto' };
  notify: {
    webhookTimeoutMs: number;
    maxAttempts: number;
    webhookAllowCidrs: string[];
    smtpHost: string;
    smtpPort: number;
    smtpSecurity: 'starttls' | 'tls' | 'none';
    smtpUser: string;
    smtpPassword: string;
    mailFrom: string;
    smsUrl: string;
    smsMethod: 'POST' | 'PUT';
    smsHeaders: string;
    smsTemplate: string;
    smsContentType: 'application/json' | 'application/x-www-form-urlencoded';
  };
  api: { operatorToken: string; rateLimitPerMinute: number; addressRateLimitPerMinute: number; bodyLimitBytes: number; uploadLimitBytes: number };
  health: { probeTimeoutMs: number };
  media: {
    servers: string[];
    listenAddress: string;
    advertisedAddress: string;
    timeoutMs: number;
    promptsDir: string;
    promptMaxSeconds: number;
    reconnectSeconds: number;
    warningSeconds: number;
  };
  outbox: { batchSize: number };
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[keys[keys.length - 1]!] = value;
}

function coerce(s: Setting, raw: unknown, from: string): unknown {
  const key = `${s.path} (${from})`;
  const k = s.kind;
  switch (k.type) {
    case 'string': {
      if (typeof raw !== 'string') throw new ConfigError(key, raw, k.allowed ?? 'a string', s.secret);
      if (k.pattern && !k.pattern.test(raw)) throw new ConfigError(key, raw, k.allowed ?? String(k.pattern), s.secret);
      return raw;
    }
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      if (!Number.isSafeInteger(n) || n < k.min || n > k.max) throw new ConfigError(key, raw, `an integer from ${k.min} to ${k.max}`);
      return n;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new ConfigError(key, raw, 'true, false, 1 or 0');
    }
    case 'auto-bool': {
      if (typeof raw === 'boolean' || raw === 'auto') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      throw new ConfigError(key, raw, 'auto, true, false, 1 or 0');
    }
    case 'enum': {
      if (typeof raw !== 'string' || !k.values.includes(raw)) throw new ConfigError(key, raw, `one of ${k.values.join(', ')}`);
      return raw;
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((x) => x.trim()).filter(Boolean) : null;
      if (!items || (items.length === 0 && !k.optional) || items.some((i) => typeof i !== 'string' || (k.pattern && !k.pattern.test(i)))) {
        throw new ConfigError(key, raw, k.allowed ?? 'a comma-separated list', s.secret);
      }
      return items;
    }
  }
}

export function readDefaults(file = projectPath('config', 'default.json')): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/**
 * Build the config from defaults plus `env` overrides (and optional in-code overrides, used by tests
 * and by the CLI). Throws ConfigError on the first bad value.
 */
export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  overrides: Record<string, unknown> = {},
  defaults: Record<string, unknown> = readDefaults(),
): Config {
  const out: Record<string, unknown> = {};
  const known = new Set(SETTINGS.map((s) => s.path));
  for (const p of Object.keys(overrides)) if (!known.has(p)) throw new ConfigError(p, overrides[p], 'a known setting');
  for (const s of SETTINGS) {
    let value: unknown;
    if (s.path in overrides) value = coerce(s, overrides[s.path], 'override');
    else if (env[s.env] !== undefined) value = coerce(s, env[s.env], `env ${s.env}`);
    else {
      const d = getPath(defaults, s.path);
      if (d === undefined) throw new ConfigError(s.path, d, 'a default in config/default.json');
      value = coerce(s, d, 'config/default.json');
    }
    setPath(out, s.path, value);
  }
  checkTogether(out as unknown as Config);
  return Object.freeze(out) as unknown as Config;
}

/** The embedded local database `npm start` makes (scripts/services.sh) and config/default.json names. */
export const LOCAL_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/softswitch';

/** Production mode: NODE_ENV=production (the Docker image, the systemd unit). */
export function isProduction(c: Pick<Config, 'runtime'>): boolean {
  return c.runtime.nodeEnv === 'production';
}

/**
 * Whether start-up seeds the demo tenant into an empty database. DEMO_AUTO_SEED=auto: the demo tenant (11,000 CNY
 * of credit on a real number) only on the local development database, never in production mode and never on a
 * database someone configured; true and false as they say.
 */
export function seedDemoOnStart(c: Pick<Config, 'runtime' | 'postgres' | 'demo'>): boolean {
  if (c.demo.autoSeed !== 'auto') return c.demo.autoSeed;
  return !isProduction(c) && c.postgres.url === LOCAL_DATABASE_URL;
}

/** An address, or an address/prefix with the prefix in range for its family. */
function isCidr(text: string): boolean {
  const [addr, bits] = text.split('/') as [string, string | undefined];
  const bytes = ipBytes(addr);
  return bytes !== null && (bits === undefined || Number(bits) <= bytes.length * 8);
}

/** Rules between settings (each setting alone was checked by coerce). */
function checkTogether(c: Config): void {
  if (c.redis.mode === 'sentinel' && c.redis.sentinels.length === 0) throw new ConfigError('redis.sentinels (REDIS_SENTINELS)', '', 'a comma list of host:port when REDIS_MODE=sentinel');
  if (c.redis.mode === 'cluster' && c.redis.clusterNodes.length === 0) throw new ConfigError('redis.clusterNodes (REDIS_CLUSTER_NODES)', '', 'a comma list of host:port when REDIS_MODE=cluster');
  if (c.drachtio.servers.length > 0 && c.drachtio.host !== '') {
    throw new ConfigError('drachtio.servers (DRACHTIO_SERVERS)', c.drachtio.servers.join(','), 'either DRACHTIO_SERVERS or DRACHTIO_HOST, not both (DRACHTIO_HOST=h DRACHTIO_PORT=p is DRACHTIO_SERVERS=h:p)');
  }
  for (const hp of c.drachtio.servers) {
    const port = Number(hp.slice(hp.lastIndexOf(':') + 1));
    if (port < 1 || port > 65535) throw new ConfigError('drachtio.servers (DRACHTIO_SERVERS)', hp, 'ports from 1 to 65535');
  }
  if (new Set(c.drachtio.servers).size !== c.drachtio.servers.length) {
    throw new ConfigError('drachtio.servers (DRACHTIO_SERVERS)', c.drachtio.servers.join(','), 'each host:port once');
  }
  if (c.notify.smsHeaders !== '') {
    let h: unknown = null;
    try {
      h = JSON.parse(c.notify.smsHeaders);
    } catch { /* reported below */ }
    const ok = h !== null && typeof h === 'object' && !Array.isArray(h)
      && Object.entries(h).every(([k, v]) => /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/.test(k) && typeof v === 'string' && !/[\r\n]/.test(v));
    if (!ok) throw new ConfigError('notify.smsHeaders (SMS_PROVIDER_HEADERS)', c.notify.smsHeaders, 'a JSON object of header names to string values without line breaks', true);
  }
  const badCidr = c.notify.webhookAllowCidrs.find((x) => !isCidr(x));
  if (badCidr !== undefined) throw new ConfigError('notify.webhookAllowCidrs (NOTIFY_WEBHOOK_ALLOW_CIDRS)', badCidr, 'CIDRs of IPv4 (prefix 0-32) or IPv6 (prefix 0-128) addresses');
  if (c.notify.smtpPassword !== '' && c.notify.smtpUser === '') {
    throw new ConfigError('notify.smtpUser (SMTP_USER)', '', 'a user name when SMTP_PASSWORD is set');
  }
  const external = c.drachtio.servers.length > 0 || c.drachtio.host !== '';
  if (external && c.drachtio.secret === PUBLIC_DRACHTIO_SECRET && !c.drachtio.allowDefaultSecret) {
    throw new ConfigError('drachtio.secret (DRACHTIO_SECRET)', PUBLIC_DRACHTIO_SECRET,
      'a secret of your own toward an external drachtio-server (`cymru` is the public default: anyone reaching its control port could place calls); set DRACHTIO_ALLOW_DEFAULT_SECRET=true to accept it anyway');
  }
}

/** The config as it may be logged or printed: secrets and URL passwords replaced. */
export function configForLog(config: Config): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  for (const s of SETTINGS) {
    const v = getPath(copy, s.path);
    if (typeof v !== 'string' || v === '') continue;
    if (s.secret) setPath(copy, s.path, '[redacted]');
    else setPath(copy, s.path, v.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@]*):[^/@]*@/i, '$1:[redacted]@'));
  }
  return copy;
}
