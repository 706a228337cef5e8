import type { NewRunEvent } from '../../store/events-repository.js'
import type { RunRow } from '../../store/tables.js'

/** One journal entry of a run, stamped now. */
export function runEvent(
  run: Pick<RunRow, 'id' | 'correlation_id'>,
  at: Date,
  type: string,
  phase: string | null,
  message: string,
  data?: Record<string, unknown>,
): NewRunEvent {
  return {
    runId: run.id,
    correlationId: run.correlation_id,
    at: at.toISOString(),
    type,
    phase,
    message,
    data: data ?? null,
  }
}
