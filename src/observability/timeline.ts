import type { Kysely } from 'kysely'
import type { AuditLog } from '../audit/audit-log.js'
import { KeyrotorError } from '../errors.js'
import type { Database } from '../store/tables.js'
import type { LogRecord } from './log-buffer.js'
import { nextSteps } from './timeline-next-steps.js'
import { runEvents, storyRuns, type StoryRun } from './timeline-runs.js'
import { alertEvents, approvalEvents, auditEvents, incidentEvents, logEvents } from './timeline-sources.js'
import type { Timeline, TimelineEvent, TimelineRun, TimelineSource } from './timeline-types.js'

export { TIMELINE_SOURCES } from './timeline-types.js'
export type { Timeline, TimelineEvent, TimelineRun, TimelineSource } from './timeline-types.js'

export interface TimelineDeps {
  db: Kysely<Database>
  audit: Pick<AuditLog, 'list'>
  /** The lines this process logged under a correlation id (the log buffer). */
  logLines?: ((correlationId: string) => LogRecord[]) | undefined
  /** The lines of `--log-file` under a correlation id, when there is one (earlier processes too). */
  logFileLines?: ((correlationId: string) => LogRecord[]) | undefined
}

export type TimelineService = ReturnType<typeof createTimelineService>

/**
 * Rebuilds what happened under one correlation id from every record keyrotor keeps: runs and
 * their journal, alerts, approvals with their decisions, incidents, audit records and log lines.
 * A run that halted on partial execution links the recovery that belongs to its story: the
 * forward corrections of its key after it and the release of the halt it engaged.
 */
export function createTimelineService(deps: TimelineDeps) {
  const { db } = deps

  function logsOf(correlationIds: readonly string[]): LogRecord[] {
    const seen = new Set<string>()
    const records: LogRecord[] = []
    for (const id of correlationIds) {
      // the file holds earlier processes' lines, the buffer this one's: a line may be in both
      for (const record of [...(deps.logFileLines?.(id) ?? []), ...(deps.logLines?.(id) ?? [])]) {
        if (seen.has(record.line)) continue
        seen.add(record.line)
        records.push(record)
      }
    }
    return records
  }

  return {
    async build(correlationId: string): Promise<Timeline> {
      const runs = await storyRuns(db, correlationId)
      const approvals = await approvalEvents(db, correlationId, runs)
      const ids = unique([
        correlationId,
        ...runs.map((r) => r.row.correlation_id),
        ...approvals.correlationIds,
      ])
      const audit = (await Promise.all(ids.map((id) => deps.audit.list(db, { correlationId: id })))).flat()
      const alerts = await alertEvents(db, ids)
      const incidents = await incidentEvents(db, ids)
      const logs = logsOf(ids)
      const events = [
        ...(await runEvents(db, runs)),
        ...approvals.events,
        ...auditEvents(audit),
        ...alerts,
        ...incidents.events,
        ...logEvents(logs),
      ]
      if (events.length === 0) {
        throw new KeyrotorError('NOT_FOUND', `nothing is recorded under correlation id ${correlationId}`)
      }
      // only events of a linked story name their correlation id: the others share the asked one
      const story = sortEvents(
        events.map(({ correlationId: id, ...event }) =>
          id === undefined || id === correlationId ? event : { ...event, correlationId: id },
        ),
      )
      const runViews = runs.map(runOf)
      return {
        correlationId,
        events: story,
        runs: runViews,
        incidents: incidents.incidents,
        nextSteps: nextSteps(runViews, incidents.incidents, story),
      }
    },
  }
}

/**
 * Time order; events of one instant keep the order of cause and effect across sources. The
 * journal's entries (run, phase, notice, probe) share a rank so that their own order holds.
 */
const TIE_ORDER: Record<TimelineSource, number> = {
  run: 0,
  phase: 0,
  notice: 0,
  probe: 0,
  approval: 1,
  audit: 2,
  alert: 3,
  incident: 4,
  log: 5,
}

function sortEvents(events: TimelineEvent[]): TimelineEvent[] {
  // Array.prototype.sort is stable: within a source, the source's own order (journal ids) holds
  return events.sort((a, b) =>
    a.at === b.at ? TIE_ORDER[a.source] - TIE_ORDER[b.source] : a.at < b.at ? -1 : 1,
  )
}

function runOf({ row, linked }: StoryRun): TimelineRun {
  return {
    id: row.id,
    kind: row.kind,
    key: row.key_id,
    state: row.state,
    correlationId: row.correlation_id,
    requestedBy: row.requested_by,
    failure:
      row.failure_class === null
        ? null
        : { class: row.failure_class, phase: row.failure_phase, message: row.failure_message },
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    linked,
  }
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)]
}
