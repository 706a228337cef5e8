import type { Kysely } from 'kysely'
import { ENGINE_ACTOR } from '../domain/actors.js'
import { listRunEvents, type RunEvent } from '../store/events-repository.js'
import type { Database, RunRow } from '../store/tables.js'
import type { TimelineEvent, TimelineSource } from './timeline-types.js'

/** A run of the story: asked for by its correlation id, or linked to one that was. */
export interface StoryRun {
  row: RunRow
  linked: boolean
}

/** Enough for any real run; a bound, so one request never reads an unbounded journal. */
const MAX_EVENTS_PER_RUN = 5000

/**
 * The runs of the correlation id and, for each that halted on partial execution, the forward
 * corrections of its key created after it: the engine gives those their own correlation id, but
 * they are the second half of the same incident.
 */
export async function storyRuns(db: Kysely<Database>, correlationId: string): Promise<StoryRun[]> {
  const rows = await db
    .selectFrom('runs')
    .selectAll()
    .where('correlation_id', '=', correlationId)
    .orderBy('created_at')
    .execute()
  const runs: StoryRun[] = rows.map((row) => ({ row, linked: false }))
  for (const halted of rows.filter((r) => r.state === 'halted' && r.finished_at !== null)) {
    const corrections = await db
      .selectFrom('runs')
      .selectAll()
      .where('key_id', '=', halted.key_id)
      .where('kind', '=', 'forward-correct')
      .where('created_at', '>=', halted.finished_at ?? halted.created_at)
      .orderBy('created_at')
      .execute()
    runs.push(...corrections.map((row) => ({ row, linked: true })))
  }
  return runs
}

const TERMINAL_EVENT = /^run\.(succeeded|failed|halted|cancelled|rejected)$/

/**
 * Each run's journal, plus what only the run's row says: when a worker started it and, when the
 * journal has no event for it, how it ended.
 */
export async function runEvents(db: Kysely<Database>, runs: readonly StoryRun[]): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = []
  for (const { row } of runs) {
    const journal = await listRunEvents(db, row.id, 0, MAX_EVENTS_PER_RUN)
    events.push(...journal.map((e) => journalEvent(e, row)))
    const base = { source: 'run' as const, runId: row.id, correlationId: row.correlation_id }
    if (!journal.some((e) => e.type === 'run.created')) {
      events.push({
        ...base,
        at: row.created_at,
        type: 'run.created',
        message: `${row.kind} of ${row.key_id} requested by ${row.requested_by}`,
        actor: row.requested_by,
      })
    }
    if (row.started_at !== null) {
      events.push({
        ...base,
        at: row.started_at,
        type: 'run.started',
        message: `${row.kind} of ${row.key_id} started`,
        actor: ENGINE_ACTOR,
      })
    }
    if (row.finished_at !== null && !journal.some((e) => TERMINAL_EVENT.test(e.type))) {
      events.push({
        ...base,
        at: row.finished_at,
        type: `run.${row.state}`,
        message: `${row.kind} of ${row.key_id} ${row.state}`,
      })
    }
  }
  return events
}

function journalEvent(e: RunEvent, row: RunRow): TimelineEvent {
  const source = sourceOfJournal(e.type)
  return {
    at: e.at,
    source,
    type: e.type,
    message: e.message,
    // the engine acts in phases; run.* entries by people are attributed by their audit records
    ...(source !== 'run'
      ? { actor: ENGINE_ACTOR }
      : e.type === 'run.created'
        ? { actor: row.requested_by }
        : {}),
    runId: e.runId,
    ...(e.phase === null ? {} : { phase: e.phase }),
    correlationId: e.correlationId,
    ...(e.data === null ? {} : { data: e.data }),
  }
}

function sourceOfJournal(type: string): TimelineSource {
  if (type.startsWith('notice.')) return 'notice'
  if (type.startsWith('probe.')) return 'probe'
  if (type.startsWith('phase.')) return 'phase'
  return 'run'
}
