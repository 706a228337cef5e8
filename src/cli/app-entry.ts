import type { LogLevel } from '../config/env.js'

/**
 * What the CLI needs from src/main.ts for the commands that run in-process (init, server, demo).
 * Declared here so the CLI type-checks on its own; main.ts must satisfy it.
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
  }): Promise<void>
  /** The main job: throwaway data dir, demo keys, one rotation end to end, then serves. */
  runDemo(options: { port: number; json: boolean }): Promise<void>
}

export async function importApp(): Promise<AppEntry> {
  // loaded lazily: client commands must not pay for (or depend on) the server's modules
  const app: AppEntry = await import('../main.js')
  return app
}
