import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Phase } from '../domain/phases.js'
import type { RunKind, RunState } from '../domain/runs.js'

/** The Prometheus metrics of one keyrotor process; names are fixed by CONTRACT.md. */
export interface Metrics {
  /** A run reached a terminal state after `seconds` from its creation. */
  runFinished(kind: RunKind, outcome: RunState, seconds: number): void
  /** A phase finished (either way) after `seconds`. */
  phaseFinished(phase: Phase, seconds: number): void
  setAlertsOpen(count: number): void
  setHaltEngaged(engaged: boolean): void
  /** The exposition text for `GET /metrics`. */
  render(): Promise<string>
  /** The Content-Type that goes with `render()`. */
  readonly contentType: string
  /** The registry itself, for components that add their own metrics. */
  readonly registry: Registry
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
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry })

  const runs = new Counter({
    name: 'keyrotor_runs_total',
    help: 'Runs that reached a terminal state, by kind and outcome.',
    labelNames: ['kind', 'outcome'] as const,
    registers: [registry],
  })
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
    setHaltEngaged(engaged) {
      haltEngaged.set(engaged ? 1 : 0)
    },
    render: () => registry.metrics(),
  }
}
