import type { SpanExporter } from '@opentelemetry/sdk-trace-node'
import type { DestinationStream } from 'pino'
import type { AuditStreamer, AuditStreamTimings } from '../audit/stream/audit-streamer.js'
import type { Checkpointer } from '../audit/checkpoints.js'
import type { LogLevel } from '../config/env.js'
import type { DependentClient } from '../dependents/dependent-client.js'
import type { EngineDeps } from '../engine/engine-deps.js'
import type { createRevokeScheduler } from '../engine/schedule/revoke-scheduler.js'
import type { createRotationScheduler } from '../engine/schedule/rotation-scheduler.js'
import type { createRunService } from '../engine/runs/rotation-service.js'
import type { createWorker } from '../engine/runs/worker.js'
import type { BootstrapOutcome } from '../config-changes/bootstrap.js'
import type { AuthThrottleOptions } from '../http/auth-throttle.js'
import type { OutboxTimings } from '../observability/sinks/delivery-outbox.js'
import type { Tracing } from '../observability/tracing.js'
import type { ProviderInstance } from '../providers/registry.js'
import type { Store } from '../store/database.js'

/** What `startKeyrotor` (src/main.ts) is told: the server's flags, and the seams tests and benchmarks use. */
export interface StartOptions {
  dataDir: string
  databaseUrl?: string | undefined
  /** PostgreSQL schema (tests isolate themselves in one). */
  schema?: string | undefined
  configPath?: string | undefined
  port?: number | undefined
  host?: string | undefined
  /** KEYROTOR_MASTER_KEY, when the master key is not in the data dir. */
  masterKey?: string | undefined
  logLevel?: LogLevel | undefined
  logFile?: string | undefined
  logDestination?: DestinationStream | undefined
  /** Resolves `secretEnv` names (dependents' webhook secrets); main passes the environment. */
  secretOf?: ((name: string) => string | undefined) | undefined
  /** Replaces the HTTP/exec dependent client (the benchmark's in-process dependents). */
  dependentClient?: DependentClient | undefined
  leaseMs?: number | undefined
  concurrency?: number | undefined
  pollMs?: number | undefined
  revokeIntervalMs?: number | undefined
  /** Audit checkpoints (signed chain heads) are also POSTed here; always written to the data dir. */
  auditCheckpointUrl?: string | undefined
  /** A checkpoint after this many audit records (default 100) … */
  auditCheckpointEvery?: number | undefined
  /** … and every this many ms while the chain grows (default 60 s). */
  auditCheckpointIntervalMs?: number | undefined
  /** The built-in rotation schedule: how often it looks (default 1s), how many scheduled runs at once (4). */
  schedulerIntervalMs?: number | undefined
  schedulerConcurrency?: number | undefined
  /** After a pre-flight refusal of a scheduled run, when the scheduler tries again (default 5m). */
  schedulerRetryMs?: number | undefined
  /** Fault tests only (KEYROTOR_CRASH_POINT): the numbered point where this process kills itself. */
  crashPoint?: string | undefined
  /** False: build everything but do not open a port (benchmark). */
  listen?: boolean | undefined
  /** Told each phase's duration as the engine records it in the metrics (the benchmark's timer). */
  phaseTimer?: ((phase: string, seconds: number) => void) | undefined
  /** Runbooks whose review dates `keyrotor_runbooks_overdue` counts (default: this package's docs/runbooks). */
  runbooksDir?: string | undefined
  /** How old a runbook's `reviewed:` date may be (default 90 days). */
  runbookReviewPeriodMs?: number | undefined
  /** Alert and incident delivery timings (tests shorten them); defaults in delivery-outbox.ts. */
  notifications?: OutboxTimings | undefined
  /** Ready-built provider instances replacing the configured ones of those names (tests). */
  providerInstances?: Readonly<Record<string, ProviderInstance>> | undefined
  /** The OTEL_* variables that turn tracing on (main passes the environment). */
  otelEnv?: Record<string, string | undefined> | undefined
  /** Tests: export spans here (an in-memory exporter) instead of OTLP. */
  traceExporter?: SpanExporter | undefined
  /** Audit stream timings (tests shorten them); defaults in audit-streamer.ts. */
  auditStream?: AuditStreamTimings | undefined
  /** PEM files: serve the API over HTTPS (both or neither). */
  tlsCertFile?: string | undefined
  tlsKeyFile?: string | undefined
  /** Failed authentications allowed per client address and window (default 30 a minute). */
  authThrottle?: AuthThrottleOptions | undefined
  /** The token GET /metrics then requires (`server --metrics-token-env VAR` passes $VAR). */
  metricsToken?: string | undefined
}

export interface Keyrotor {
  url: string
  store: Store
  config: BootstrapOutcome
  engine: EngineDeps
  runs: ReturnType<typeof createRunService>
  worker: ReturnType<typeof createWorker>
  revokes: ReturnType<typeof createRevokeScheduler>
  /** Writes the audit chain's signed head outside the store. */
  auditCheckpoints: Checkpointer
  scheduler: ReturnType<typeof createRotationScheduler>
  /** Streams audit records to the `notifications.audit` sinks. */
  auditStream: AuditStreamer
  /** OpenTelemetry tracing (off unless OTEL_* asks for it). */
  tracing: Tracing
  close(): Promise<void>
}
