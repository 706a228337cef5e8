import type { RunState } from '../../domain/runs.js'
import type { RunRow, RunUpdate } from '../../store/tables.js'

/** Fields that end a run: it no longer holds its key, nor a lease. */
export function terminal(state: RunState, now: Date): RunUpdate {
  return {
    state,
    finished_at: now.toISOString(),
    active_key: null,
    lease_owner: null,
    lease_expires_at: null,
  }
}

export function elapsedSeconds(run: RunRow, now: Date): number {
  return (now.getTime() - Date.parse(run.started_at ?? run.created_at)) / 1000
}
