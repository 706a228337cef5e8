import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Phase } from '../domain/phases.js'
import { RUN_KINDS, RUN_STATES, isTerminal, type RunKind, type RunState } from '../domain/runs.js'
import { ALERT_TYPES, type AlertType } from './alerts.js'
import { pastRotationPeriod, type KeyAge } from './key-ages.js'

/** The Prometheus metrics of one keyrotor process; names are fixed by CONTRACT.md. */
export interface Metrics {
  /** A run reached a terminal state after `seconds` from its creation. */
  runFinished(kind: RunKind, outcome: RunState, seconds: number): void
  /** A phase finished (either way) after `seconds`. */
  phaseFinished(phase: Phase, seconds: number): void
  setAlertsOpen(count: number): void
  /** An alert was raised or repeated (its `count` went up). */
  alertRaised(type: AlertType): void
  setHaltEngaged(engaged: boolean): void
  /** One delivery attempt of the notification outbox ended so. */
  notificationAttempt(channel: string, sinkType: string, outcome: 'delivered' | 'retry' | 'failed'): void
  /** Spans that could not be exported (OpenTelemetry on, collector unreachable or refusing). */
  spansDropped(count: number): void
  /** A log line could not be written (`reason`: ENOSPC, EIO, …) and was dropped. */
  logLineDropped(reason: string): void
  /**
   * Computes the store-derived gauges (key ages, keys past their period, pending notifications)
   * from `source` on every scrape, like the open-alert gauge: with several instances on one
   * database, a rotation done by another instance is seen here too.
   */
  collectFrom(source: StoreGaugeSource): void
  /** The exposition text for `GET /metrics`. */
  render(): Promise<string>
  /** The Content-Type that goes with `render()`. */
  readonly contentType: string
  /** The registry itself, for components that add their own metrics. */
  readonly registry: Registry
}

/** What the scrape-time gauges read; a failing read keeps the last values (and is reported). */
export interface StoreGaugeSource {
  keyAges(): Promise<readonly KeyAge[]>
  notificationsPending(): Promise<number>
  /** The configured sinks, so that their delivery counters exist (at 0) before any delivery. */
  sinks?(): Promise<readonly { channel: string; type: string }[]>
  onError?(error: unknown): void
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop); on unless a test turns them off. */
  defaultMetrics?: boolean
}

// Runs wait on dependents and grace periods: seconds to hours. Phases are mostly sub-second
// (create, promote) but distribute and confirm wait on probes for minutes.
const RUN_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200]
const PHASE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800]

/** Its own registry, never prom-client's global one: several apps in one test process stay apart. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry()
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry })
    // prom-client names these gauges `_total`, which Prometheus reserves for counters (promtool
    // check metrics fails on them); `nodejs_active_handles` etc. by type carry the same figures.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ])
      registry.removeSingleMetric(name)
  }

  const runs = new Counter({
    name: 'keyrotor_runs_total',
    help: 'Runs that reached a terminal state, by kind and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  })
  // Every series exists from the first scrape at 0: `increase()` and `rate()` cannot see the first
  // event of a series that appears at 1, so a first-ever partial execution would never alert.
  for (const kind of RUN_KINDS)
    for (const outcome of RUN_STATES.filter(isTerminal)) runs.inc({ kind, outcome }, 0)
  const runDuration = new Histogram({
    name: 'keyrotor_run_duration_seconds',
    help: 'Time from a run being created to reaching a terminal state.',
    buckets: RUN_BUCKETS,
    registers: [registry],
  })
  const phaseDuration = new Histogram({
    name: 'keyrotor_phase_duration_seconds',
    help: 'Time one phase of a run took, by phase.',
    labelNames: ['phase'] as const,
    buckets: PHASE_BUCKETS,
    registers: [registry],
  })
  const alertsOpen = new Gauge({
    name: 'keyrotor_alerts_open',
    help: 'Alerts in state open (raised and not yet acknowledged).',
    registers: [registry],
  })
  const haltEngaged = new Gauge({
    name: 'keyrotor_halt_engaged',
    help: '1 while the global halt is engaged, else 0.',
    registers: [registry],
  })

  const notifications = new Counter({
    name: 'keyrotor_notifications_total',
    help: 'Delivery attempts of alert and incident notifications, by channel, sink type and outcome.',
    labelNames: ['channel', 'sink', 'outcome'] as const,
    registers: [registry],
  })
  const alertsRaised = new Counter({
    name: 'keyrotor_alerts_raised_total',
    help: 'Alerts raised or repeated, by alert type.',
    labelNames: ['type'] as const,
    registers: [registry],
  })
  for (const type of ALERT_TYPES) alertsRaised.inc({ type }, 0)
  const NOTIFICATION_OUTCOMES = ['delivered', 'retry', 'failed'] as const
  const droppedSpans = new Counter({
    name: 'keyrotor_trace_spans_dropped_total',
    help: 'Spans that could not be exported to the OTLP endpoint and were dropped.',
    registers: [registry],
  })
  const logLinesDropped = new Counter({
    name: 'keyrotor_log_lines_dropped_total',
    help: 'Log lines that could not be written to --log-file (disk full, I/O error) and were dropped.',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  let source: StoreGaugeSource | undefined
  // one read of the store per scrape (started by render), shared by the two gauges that
  // prom-client collects in parallel
  let scrapeAges: Promise<readonly KeyAge[] | undefined> | undefined
  const freshAges = (): Promise<readonly KeyAge[] | undefined> => {
    const from = source
    if (from === undefined) return Promise.resolve(undefined)
    return from.keyAges().catch((error: unknown) => void from.onError?.(error))
  }
  const readAges = () => scrapeAges ?? freshAges()
  new Gauge({
    name: 'keyrotor_key_active_version_age_seconds',
    help: "Age of each key's active version (since it was created).",
    labelNames: ['key'] as const,
    registers: [registry],
    async collect() {
      const read = await readAges()
      if (read === undefined) return
      this.reset()
      for (const a of read) this.set({ key: a.key }, Math.round(a.ageSeconds))
    },
  })
  const pastPeriod = new Gauge({
    name: 'keyrotor_keys_past_rotation_period',
    help: 'Keys whose active version is older than their policy.rotationPeriod.',
    registers: [registry],
    async collect() {
      const read = await readAges()
      if (read !== undefined) this.set(pastRotationPeriod(read))
    },
  })
  const pending = new Gauge({
    name: 'keyrotor_notifications_pending',
    help: 'Alert and incident notifications not delivered yet (the outbox).',
    registers: [registry],
    async collect() {
      const from = source
      if (from === undefined) return
      const n = await from.notificationsPending().catch((error: unknown) => void from.onError?.(error))
      if (n !== undefined) this.set(n)
    },
  })
  // present from the first scrape, before any store read: dashboards and rules need the series
  pastPeriod.set(0)
  pending.set(0)

  return {
    registry,
    contentType: registry.contentType,
    runFinished(kind, outcome, seconds) {
      runs.inc({ kind, outcome })
      runDuration.observe(seconds)
    },
    phaseFinished(phase, seconds) {
      phaseDuration.observe({ phase }, seconds)
    },
    setAlertsOpen(count) {
      alertsOpen.set(count)
    },
    alertRaised(type) {
      alertsRaised.inc({ type })
    },
    setHaltEngaged(engaged) {
      haltEngaged.set(engaged ? 1 : 0)
    },
    notificationAttempt(channel, sinkType, outcome) {
      notifications.inc({ channel, sink: sinkType, outcome })
    },
    spansDropped(count) {
      droppedSpans.inc(count)
    },
    logLineDropped(reason) {
      logLinesDropped.inc({ reason })
    },
    collectFrom(from) {
      source = from
    },
    async render() {
      const sinks = await source?.sinks?.().catch((error: unknown) => void source?.onError?.(error))
      for (const sink of sinks ?? [])
        for (const outcome of NOTIFICATION_OUTCOMES)
          notifications.inc({ channel: sink.channel, sink: sink.type, outcome }, 0)
      scrapeAges = freshAges()
      try {
        return await registry.metrics()
      } finally {
        scrapeAges = undefined
      }
    },
  }
}
