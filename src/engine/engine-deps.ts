import type { Kysely } from 'kysely'
import type { DependentClient } from '../dependents/dependent-client.js'
import type { ProviderRegistry } from '../providers/registry.js'
import type { Executor } from '../store/database.js'
import type { Database } from '../store/tables.js'
import type { Transact } from '../store/transactor.js'
import type { AlertType, RaiseAlert } from '../observability/alerts.js'
import type { IncidentOpener } from '../observability/incidents.js'

/** The narrow views of the services the engine uses; main.ts wires the real ones. */
export interface EngineDeps {
  db: Kysely<Database>
  /** The engine's durable writes: one transaction each, grouped under one commit on SQLite. */
  transact: Transact
  /** Provider instances by name; `configure`/`checkAll` where a config change brings new ones. */
  providers: Pick<ProviderRegistry, 'get'> & Partial<Pick<ProviderRegistry, 'configure' | 'checkAll'>>
  dependents: DependentClient
  alerts: {
    raise(executor: Kysely<Database>, alert: RaiseAlert): Promise<unknown>
    /** Resolves the alerts of a run whose condition cleared (a retried run that succeeded). */
    resolve?(
      filter: { runId?: string; types?: readonly AlertType[] },
      executor?: Kysely<Database>,
    ): Promise<unknown>
  }
  audit: {
    append(
      executor: Executor,
      event: {
        actor: string
        action: string
        target?: string
        correlationId?: string
        reason?: string
        details?: Record<string, unknown>
      },
    ): Promise<unknown>
  }
  metrics?: {
    phaseFinished(phase: string, seconds: number): void
    runFinished(kind: string, outcome: string, seconds: number): void
  }
  log: EngineLog
  now: () => Date
  /** Fault tests only: called at every numbered crash point (`rotate/promote:after-provider`). */
  crash?: ((point: string) => void) | undefined
  /** Warning and error log lines this process wrote under a correlation id (validate reads them). */
  loggedProblems?: ((correlationId: string, since: string) => string[]) | undefined
  /**
   * Told after every committed phase of a run on `keyId`: this instance's JWKS cache drops the
   * key's document so notified verifiers fetch the new one at once (other instances within 1 s).
   */
  versionsChanged?: ((keyId: string) => void) | undefined
  /** Opens the incident a partial execution escalates to the security and platform leads. */
  incidents?: IncidentOpener | undefined
  /** Runs `fn` in a trace span (OpenTelemetry, when on); absent: just runs it. */
  trace?: EngineTracer | undefined
}

/** The engine's view of tracing: a span around a phase; main.ts passes observability/tracing.ts. */
export interface EngineTracer {
  span<T>(name: string, attributes: Record<string, string | number>, fn: () => Promise<T>): Promise<T>
}

/** The engine logs through this; main.ts passes a pino child logger. */
export interface EngineLog {
  info(fields: Record<string, unknown>, message: string): void
  warn(fields: Record<string, unknown>, message: string): void
  error(fields: Record<string, unknown>, message: string): void
}
