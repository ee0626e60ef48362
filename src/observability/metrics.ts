/**
 * Every Prometheus metric of the product, defined once. Modules import `metrics` and update it; nothing
 * else creates metrics. Names: `softswitch_` prefix (not on the standard process_ and nodejs_ metrics), base
 * units, `_total` counters, `_seconds` histograms.
 * Labels are bounded: no per-number labels; `gateway` is bounded by the gateway table, `reason` and
 * `result` by the enums below.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SlidingDelta, asrRatio, perSecond } from './window.js';

export const registry = new Registry();
// `aggregator` on gauges: how /metrics merges the threads of a split instance (src/workers/aggregate.ts);
// counters, histograms and unmarked gauges (per-thread amounts: active calls, CPS) are summed.
// The standard process_* and nodejs_* metrics keep their stock names (no prefix) so stock Node.js dashboards and
// alerts work on them; select ours with {job="softswitch"}.
collectDefaultMetrics({ register: registry });

const latencyBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** result label values of softswitch_calls_total */
/** reason label values for rejected calls */
export type RejectReasonLabel =
  | 'no_balance' | 'caller_id' | 'limit' | 'no_route' | 'ingress' | 'store_down' | 'tenant' | 'blocked'
  | 'hours' | 'bad_request' | 'draining' | 'none';
/** prompt label values of softswitch_announcements_total (src/media/prompts.ts) */
export type PromptLabel = 'no_balance' | 'outside_hours' | 'tenant_suspended' | 'low_credit';
/** result label values of softswitch_announcements_total: played to the end (or its bound); skipped (no media
 * server up, or it was too slow: nothing reached the caller); failed (broke off once started); canceled (the
 * caller hung up or the call ended meanwhile) */
export type AnnouncementResult = 'played' | 'skipped' | 'failed' | 'canceled';

/**
 * reason label values of softswitch_sip_dropped_total: SIP messages the edge let go without processing them.
 * unknown_source: not a trunk, gateway or dialog peer (dropped before parsing; or one stateless 403 in reject mode);
 * rate_limited: over SIP_SOURCE_RATE_LIMIT; response_source: a response from elsewhere than where its request went;
 * stray_response: a response to no transaction of ours; malformed: unparseable or over the input limits (400 when
 * it can be answered safely);
 * tcp_limit: a TCP connection refused or closed by the TCP limits (count, per address, idle, slow, unsent bytes).
 */
export type SipDropReasonLabel = 'unknown_source' | 'rate_limited' | 'response_source' | 'stray_response' | 'malformed' | 'tcp_limit';

const callsTotal = new Counter({
  name: 'softswitch_calls_total',
  help: 'Call attempts by final result; reason for rejections, sip_class (4xx/5xx/6xx) for failures',
  labelNames: ['result', 'reason', 'sip_class'] as const,
  registers: [registry],
});
const invitesTotal = new Counter({
  name: 'softswitch_invites_total',
  help: 'New INVITEs received from the call-center trunks (feeds CPS: rate(softswitch_invites_total[1m]))',
  registers: [registry],
});

/** Windows of the instance-local ASR and CPS gauges (Prometheus-side: recording rules in deploy/prometheus). */
const ASR_WINDOW_SECONDS = 300;
const CPS_WINDOW_SECONDS = 60;
const asrWindow = new SlidingDelta(ASR_WINDOW_SECONDS * 1000, Date.now(), [0, 0]);
const cpsWindow = new SlidingDelta(CPS_WINDOW_SECONDS * 1000, Date.now(), [0]);

/** Cumulative answered and seized calls. A seizure is a call sent to the carrier (answered, failed or canceled);
 * our own rejections never reached a trunk and are not seizures. */
async function callTotals(): Promise<{ answered: number; seized: number }> {
  let answered = 0;
  let seized = 0;
  for (const v of (await callsTotal.get()).values) {
    if (v.labels.result === 'answered') answered += v.value;
    if (v.labels.result === 'answered' || v.labels.result === 'failed' || v.labels.result === 'canceled') seized += v.value;
  }
  return { answered, seized };
}

export const metrics = {
  callsTotal,
  invitesTotal,
  asr: new Gauge({
    name: 'softswitch_asr_ratio',
    help: `Answer-seizure ratio of this instance over the last ${ASR_WINDOW_SECONDS}s: answered / (answered+failed+canceled); NaN with no seizures`,
    registers: [registry], aggregator: 'average',
    async collect() {
      const t = await callTotals();
      const d = asrWindow.push(Date.now(), [t.answered, t.seized]);
      this.set(asrRatio(d.deltas[0]!, d.deltas[1]!));
    },
  }),
  callsPerSecond: new Gauge({
    name: 'softswitch_calls_per_second',
    help: `New INVITEs per second on this instance over the last ${CPS_WINDOW_SECONDS}s`,
    registers: [registry],
    async collect() {
      const total = (await invitesTotal.get()).values.reduce((a, v) => a + v.value, 0);
      const d = cpsWindow.push(Date.now(), [total]);
      this.set(perSecond(d.deltas[0]!, d.seconds));
    },
  }),
  activeCalls: new Gauge({ name: 'softswitch_active_calls', help: 'Calls in progress (answered or ringing)', registers: [registry] }),
  activeCallsByGateway: new Gauge({
    name: 'softswitch_gateway_active_calls', help: 'Calls in progress per carrier gateway', labelNames: ['gateway'] as const, registers: [registry],
  }),
  callDuration: new Histogram({
    name: 'softswitch_call_duration_seconds', help: 'Answered call duration',
    buckets: [5, 15, 30, 60, 120, 300, 600, 1200, 3600], registers: [registry],
  }),
  postDialDelay: new Histogram({
    name: 'softswitch_post_dial_delay_seconds', help: 'INVITE to first ringing/answer from the carrier',
    buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20], registers: [registry],
  }),
  authorizeLatency: new Histogram({
    name: 'softswitch_authorize_duration_seconds', help: 'Charging authorization latency (Redis round trip included)',
    buckets: latencyBuckets, registers: [registry],
  }),
  cutoffsTotal: new Counter({ name: 'softswitch_balance_cutoffs_total', help: 'Calls cut because the balance was exhausted', registers: [registry] }),
  cutoffLateness: new Histogram({
    name: 'softswitch_cutoff_lateness_seconds', help: 'Seconds between the exact exhaustion instant and the BYE being sent',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [registry],
  }),
  operatorCutsTotal: new Counter({
    name: 'softswitch_operator_cuts_total', help: 'Calls cut by operator action (suspension) or drain', labelNames: ['cause'] as const, registers: [registry],
  }),
  gatewayUp: new Gauge({ name: 'softswitch_gateway_up', help: '1 when the carrier gateway answers OPTIONS', labelNames: ['gateway'] as const, registers: [registry], aggregator: 'max' }),
  gatewayOptionsRtt: new Histogram({
    name: 'softswitch_gateway_options_rtt_seconds', help: 'OPTIONS ping round trip to carrier gateways', labelNames: ['gateway'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [registry],
  }),
  storeLatency: new Histogram({
    name: 'softswitch_store_command_duration_seconds', help: 'Redis and PostgreSQL command latency', labelNames: ['store', 'op'] as const,
    buckets: latencyBuckets, registers: [registry],
  }),
  storeErrors: new Counter({
    name: 'softswitch_store_errors_total', help: 'Redis and PostgreSQL command errors', labelNames: ['store', 'op'] as const, registers: [registry],
  }),
  outboxBacklog: new Gauge({ name: 'softswitch_outbox_backlog', help: 'CDR/ledger events waiting in the Redis outbox', registers: [registry], aggregator: 'max' }),
  outboxOldestAge: new Gauge({ name: 'softswitch_outbox_oldest_age_seconds', help: 'Age of the oldest event waiting in the outbox', registers: [registry], aggregator: 'max' }),
  outboxShardLag: new Gauge({
    name: 'softswitch_outbox_shard_lag_seconds', help: 'Per Redis key shard: age of the oldest outbox event not yet written to PostgreSQL (0 = none waiting)',
    labelNames: ['shard'] as const, registers: [registry], aggregator: 'max',
  }),
  outboxBatches: new Counter({
    name: 'softswitch_outbox_batches_total', help: 'PostgreSQL transactions of the outbox writer (events written per transaction = events / batches)', registers: [registry],
  }),
  redisFailovers: new Counter({
    name: 'softswitch_redis_failovers_total', help: 'Redis master changes this instance saw (Sentinel handed over a new master, or a cluster shard moved to a promoted replica)', registers: [registry],
  }),
  redisUnreplicatedSteps: new Counter({
    name: 'softswitch_redis_unreplicated_steps_total', help: 'Charging steps acknowledged by the Redis master but not confirmed by REDIS_WAIT_REPLICAS replicas within REDIS_WAIT_TIMEOUT_MS',
    labelNames: ['step'] as const, registers: [registry],
  }),
  outboxProcessedTotal: new Counter({
    name: 'softswitch_outbox_events_total', help: 'Outbox events handled by the consumer', labelNames: ['outcome'] as const, registers: [registry],
  }),
  reconcileDrift: new Gauge({
    name: 'softswitch_reconcile_drift_fen', help: 'Sum of |Redis balance - ledger balance| over tenants at the last reconciliation, in fen', registers: [registry], aggregator: 'max',
  }),
  reconcileDriftTenants: new Gauge({
    name: 'softswitch_reconcile_drift_tenants', help: 'Tenants whose Redis balance differed from the ledger at the last reconciliation', registers: [registry], aggregator: 'max',
  }),
  lowBalanceTenants: new Gauge({ name: 'softswitch_low_balance_tenants', help: 'Tenants below the low-balance threshold', registers: [registry], aggregator: 'max' }),
  notificationsTotal: new Counter({
    name: 'softswitch_notifications_total',
    help: 'Tenant notice delivery attempts by channel (email, sms, webhook, log) and outcome (sent, retry, failed, no_provider)',
    labelNames: ['channel', 'outcome'] as const, registers: [registry],
  }),
  sipDropped: new Counter({
    name: 'softswitch_sip_dropped_total',
    help: 'SIP messages (or TCP connections) the embedded edge dropped at the door, by reason (unknown_source, rate_limited, response_source, stray_response, malformed, tcp_limit)',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  drachtioConnected: new Gauge({
    name: 'softswitch_drachtio_connected', help: '1 while connected to the drachtio server (DRACHTIO_SERVERS entry, or the embedded edge)',
    labelNames: ['server'] as const, registers: [registry], aggregator: 'min',
  }),
  drachtioDisconnects: new Counter({
    name: 'softswitch_drachtio_disconnects_total', help: 'Connections to a drachtio server lost (closed, refused, or dropped after unanswered pings)',
    labelNames: ['server'] as const, registers: [registry],
  }),
  drachtioLostCalls: new Counter({
    name: 'softswitch_drachtio_lost_calls_total', help: 'Calls ended because the connection to the drachtio server they came through was lost (billed up to that instant)',
    labelNames: ['server'] as const, registers: [registry],
  }),
  draining: new Gauge({ name: 'softswitch_draining', help: '1 while the instance drains on shutdown', registers: [registry], aggregator: 'max' }),
  componentUp: new Gauge({
    name: 'softswitch_component_up', help: '1 when the readiness probe of a component (drachtio, redis, postgres, outbox) passed (run at each scrape and /readyz)',
    labelNames: ['component'] as const, registers: [registry], aggregator: 'min',
  }),
  mediaServerUp: new Gauge({
    name: 'softswitch_media_server_up', help: '1 while the event socket of a FreeSWITCH media server (MEDIA_SERVER) is connected and ready',
    labelNames: ['server'] as const, registers: [registry], aggregator: 'min',
  }),
  announcementsTotal: new Counter({
    name: 'softswitch_announcements_total',
    help: 'Announcements by prompt (no_balance, outside_hours, tenant_suspended, low_credit) and result (played, skipped, failed, canceled)',
    labelNames: ['prompt', 'result'] as const, registers: [registry],
  }),
  httpRequests: new Counter({
    name: 'softswitch_http_requests_total', help: 'HTTP API requests by route pattern and status code', labelNames: ['route', 'status'] as const, registers: [registry],
  }),
  httpDuration: new Histogram({
    name: 'softswitch_http_request_duration_seconds', help: 'HTTP API request latency by route pattern', labelNames: ['route'] as const,
    buckets: latencyBuckets, registers: [registry],
  }),
};

/** Time an async store call into storeLatency/storeErrors. */
export async function timed<T>(store: 'redis' | 'postgres', op: string, fn: () => Promise<T>): Promise<T> {
  const end = metrics.storeLatency.startTimer({ store, op });
  try {
    return await fn();
  } catch (e) {
    metrics.storeErrors.inc({ store, op });
    throw e;
  } finally {
    end();
  }
}
