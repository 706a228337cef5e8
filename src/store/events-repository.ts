import type { Executor } from './database.js'
import { decodeEventData, encodeEventData } from './run-columns.js'

/** One journal entry of a run: what a phase is about to do, what it did, what it saw. */
export interface RunEvent {
  id: number
  runId: string
  correlationId: string
  at: string
  type: string
  phase: string | null
  message: string
  data: Record<string, unknown> | null
}

export type NewRunEvent = Omit<RunEvent, 'id'>

export async function appendEvents(db: Executor, events: readonly NewRunEvent[]): Promise<void> {
  if (events.length === 0) return
  await db
    .insertInto('run_events')
    .values(
      events.map((e) => ({
        run_id: e.runId,
        correlation_id: e.correlationId,
        at: e.at,
        type: e.type,
        phase: e.phase,
        message: e.message,
        data: encodeEventData(e.data),
      })),
    )
    .execute()
}

/** Events of one run after the cursor (an event id), oldest first. */
export async function listRunEvents(
  db: Executor,
  runId: string,
  after: number,
  limit = 500,
): Promise<RunEvent[]> {
  const rows = await db
    .selectFrom('run_events')
    .selectAll()
    .where('run_id', '=', runId)
    .where('id', '>', after)
    .orderBy('id')
    .limit(limit)
    .execute()
  return rows.map((r) => ({
    id: r.id,
    runId: r.run_id,
    correlationId: r.correlation_id,
    at: r.at,
    type: r.type,
    phase: r.phase,
    message: r.message,
    data: decodeEventData(r),
  }))
}

/** When the run was last retried, if ever: where the journal of its current attempt begins. */
export async function lastRetriedAt(db: Executor, runId: string): Promise<string | undefined> {
  const retried = await db
    .selectFrom('run_events')
    .select('at')
    .where('run_id', '=', runId)
    .where('type', '=', 'run.retried')
    .orderBy('id', 'desc')
    .executeTakeFirst()
  return retried?.at
}

/** The warnings and errors journaled (`*.warning`, `*.error`) under `correlationId` since `since`. */
export async function problemEventsSince(
  db: Executor,
  correlationId: string,
  since: string,
): Promise<{ type: string; message: string }[]> {
  return db
    .selectFrom('run_events')
    .select(['type', 'message'])
    .where('correlation_id', '=', correlationId)
    .where('at', '>=', since)
    .where((eb) => eb.or([eb('type', 'like', '%.warning'), eb('type', 'like', '%.error')]))
    .execute()
}
