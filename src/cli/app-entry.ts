import type { LogLevel } from '../config/env.js'
import type { ScenarioName } from '../drills/catalog.js'

/**
 * What the CLI needs from src/app/commands.ts for the commands that run in-process (init, server,
 * demo, drill sandbox, agent). Declared here so the CLI type-checks on its own; commands.ts must
 * satisfy it.
 */
export interface AppEntry {
  /** Creates the store and master key; resolves with the admin token, shown once. */
  runInit(options: {
    dataDir: string
    databaseUrl?: string
    masterKey?: string
  }): Promise<{ adminToken: string }>
  /** Runs API, dashboard, scheduler and workers; resolves when the server stops. */
  runServer(options: {
    dataDir: string
    configPath?: string
    port: number
    host: string
    databaseUrl?: string
    logFile?: string
    masterKey?: string
    logLevel?: LogLevel
    /** Resolves dependents' `secretEnv` names; the CLI entry is what reads the environment. */
    secretOf?: (name: string) => string | undefined
    /** How long a worker holds a run without renewing its lease. */
    leaseMs?: number
    /** How many scheduled rotations may run at once. */
    schedulerConcurrency?: number
    /** A webhook that receives the signed audit checkpoints too. */
    auditCheckpointUrl?: string | undefined
    /** PEM files: serve HTTPS. */
    tlsCertFile?: string | undefined
    tlsKeyFile?: string | undefined
    /** GET /metrics then requires this bearer token. */
    metricsToken?: string | undefined
    /** Runbooks whose review dates the overdue metric counts, and their review period. */
    runbooksDir?: string | undefined
    runbookReviewPeriodMs?: number
  }): Promise<void>
  /** A drill's sandbox: serves until SIGTERM (`drill start` runs it detached). */
  runDrillSandbox(options: { scenario: ScenarioName; dir: string; port: number }): Promise<void>
  /** `keyrotor agent`: answers probes and notices for one service, hands it versions as files. */
  runAgent(options: {
    configPath: string
    logFile?: string | undefined
    logLevel?: LogLevel | undefined
    secretOf: (name: string) => string | undefined
  }): Promise<void>
  /** The main job: throwaway data dir, demo keys, one rotation end to end, then serves. */
  runDemo(options: { port: number; json: boolean }): Promise<void>
}

export async function importApp(): Promise<AppEntry> {
  // loaded lazily: client commands must not pay for (or depend on) the server's modules
  const app: AppEntry = await import('../app/commands.js')
  return app
}
