import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ScenarioName } from './catalog.js'

export const DEFAULT_DRILL_DIR = '.keyrotor-drill'

/** The people a trainee plays: two admins, so that four-eyes steps can be practised alone. */
export const TRAINEE_ROLES = ['operator', 'security', 'admin', 'admin2'] as const
export type TraineeRole = (typeof TRAINEE_ROLES)[number]

/** The user name behind each trainee token: what the audit log shows for their actions. */
export const TRAINEE_USERS: Record<TraineeRole, string> = {
  operator: 'drill-operator',
  security: 'drill-security',
  admin: 'drill-admin',
  admin2: 'drill-admin2',
}

/**
 * What a running sandbox tells the CLI, in `sandbox.json` of the drill dir (mode 0600: it holds
 * the sandbox's tokens, which are worthless outside this throwaway server).
 */
export interface SandboxState {
  scenario: ScenarioName
  pid: number
  url: string
  tokens: Record<TraineeRole, string>
  /** The sandbox's own admin (user `admin`): `drill check` reads and verifies with it. */
  refereeToken: string
  /** Where `drill fix` asks the sandbox for the out-of-band repair (a fixed dependent, provider). */
  controlUrl: string
  controlSecret: string
  runbooks: readonly string[]
  startedAt: string
  /** When the fault was in place and the trainee's clock started. */
  faultAt: string
  /** When `drill fix` repaired the cause, if it did. */
  fixedAt: string | null
  /** Scenario facts the check needs (the run that failed, when the freeze ends, …). */
  facts: Record<string, string | number | null>
}

/** Every file and directory a sandbox creates in its drill dir: `drill stop` removes exactly these. */
export const SANDBOX_FILES = {
  state: 'sandbox.json',
  log: 'sandbox.log',
  data: 'data',
  change: 'change.yaml',
} as const

export function statePath(dir: string): string {
  return join(dir, SANDBOX_FILES.state)
}

export function readState(dir: string): SandboxState | undefined {
  const path = statePath(dir)
  if (!existsSync(path)) return undefined
  return JSON.parse(readFileSync(path, 'utf8')) as SandboxState
}

/** Written whole to a temporary name and renamed: a reader never sees half a file. */
export function writeState(dir: string, state: SandboxState): void {
  const path = statePath(dir)
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
  renameSync(`${path}.tmp`, path)
}

/** Whether the process runs; a zombie (exited, not yet reaped by its parent) does not. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    // EPERM: it exists but is not ours; still alive
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true
  }
}
