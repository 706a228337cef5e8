import { z } from 'zod'
import { SCHEDULE_STATUSES } from '../../engine/schedule/schedule-plan.js'
import { ALERT_SEVERITIES, ALERT_STATES, ALERT_TYPES } from '../../observability/alerts.js'
import { INCIDENT_SEVERITIES, INCIDENT_STATES } from '../../observability/incidents.js'
import { TIMELINE_SOURCES } from '../../observability/timeline.js'
import { nullableString, nullableTimestamp, timestamp } from './common.js'
import { pageQuery, timeRangeQuery } from './paging.js'

export const Alert = z
  .object({
    id: z.string(),
    type: z.enum(ALERT_TYPES),
    severity: z.enum(ALERT_SEVERITIES),
    key: nullableString,
    runId: nullableString,
    correlationId: nullableString,
    message: z.string(),
    count: z.number().int(),
    state: z.enum(ALERT_STATES),
    createdAt: timestamp,
    updatedAt: timestamp,
  })
  .meta({ id: 'Alert' })

export const AlertsQuery = z.object({
  state: z.enum(ALERT_STATES).optional(),
  type: z.enum(ALERT_TYPES).optional(),
  key: z.string().max(200).optional(),
  ...timeRangeQuery('Alerts with activity'),
  ...pageQuery(),
})

export const Incident = z
  .object({
    id: z.string(),
    state: z.enum(INCIDENT_STATES),
    severity: z.enum(INCIDENT_SEVERITIES),
    title: z.string(),
    summary: z.string(),
    correlationId: nullableString,
    runId: nullableString,
    key: nullableString,
    escalatedTo: z.array(z.string()),
    openedAt: timestamp,
    closedAt: nullableTimestamp,
    closedBy: nullableString,
    rca: nullableString,
  })
  .meta({ id: 'Incident' })

/** A ticket a ticketing sink of notifications.incidents opened for an incident. */
export const IncidentTicket = z
  .object({
    sink: z.string(),
    type: z.string(),
    externalId: z.string(),
    url: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'IncidentTicket' })

export const IncidentsQuery = z.object({
  state: z.enum(INCIDENT_STATES).optional(),
  severity: z.enum(INCIDENT_SEVERITIES).optional(),
  key: z.string().max(200).optional(),
  ...timeRangeQuery('Incidents opened'),
  ...pageQuery(),
})
export const CloseIncidentBody = z.strictObject({ rca: z.string().min(1).max(200_000) })

export const AuditEvent = z
  .object({
    seq: z.number().int(),
    at: timestamp,
    actor: z.string(),
    action: z.string(),
    target: nullableString,
    correlationId: nullableString,
    reason: nullableString,
    details: z.record(z.string(), z.unknown()).nullable(),
    prevHash: nullableString.describe('the hash of the record before (all zeros for the first)'),
    hash: nullableString.describe('HMAC under the chain key over every field above and prevHash'),
  })
  .meta({ id: 'AuditEvent' })

// a date, or a date and time with an optional zone: ISO 8601, not whatever Date.parse takes
/** The most records one answer holds, and the default: an export wants everything since a time. */
export const MAX_AUDIT_PAGE = 10_000

export const AuditQuery = z.object({
  ...timeRangeQuery('Records written'),
  correlationId: z.string().max(200).optional(),
  action: z.string().max(200).optional(),
  actor: z.string().max(200).optional(),
  target: z.string().max(200).optional().describe('What was acted on: a key id, run id, …'),
  afterSeq: z.coerce.number().int().min(0).optional().describe('page on: records after this seq'),
  ...pageQuery(MAX_AUDIT_PAGE),
})

export const AuditChainReport = z.object({
  valid: z.boolean(),
  checked: z.number().int().describe('records found intact, in seq order, before the first bad one'),
  brokenAt: z.object({ seq: z.number().int(), reason: z.string() }).optional(),
  checkpoint: z.object({ seq: z.number().int(), headHash: z.string(), at: timestamp }).optional(),
  warnings: z.array(z.string()).optional(),
})

export const TimelineEvent = z.object({
  at: timestamp,
  source: z.enum(TIMELINE_SOURCES),
  type: z.string(),
  message: z.string(),
  actor: z.string().optional(),
  runId: z.string().optional(),
  phase: z.string().optional(),
  correlationId: z.string().optional().describe('set on events of a linked story under another id'),
  data: z.record(z.string(), z.unknown()).optional(),
})

export const Timeline = z
  .object({
    correlationId: z.string(),
    events: z.array(TimelineEvent),
    runs: z.array(
      z.object({
        id: z.string(),
        kind: z.string(),
        key: z.string(),
        state: z.string(),
        correlationId: z.string(),
        requestedBy: z.string(),
        failure: z
          .object({ class: nullableString, phase: nullableString, message: nullableString })
          .nullable(),
        createdAt: timestamp,
        startedAt: nullableTimestamp,
        finishedAt: nullableTimestamp,
        linked: z.boolean().describe('a run of a linked story rather than of the id asked for'),
      }),
    ),
    incidents: z.array(z.object({ id: z.string(), state: z.string(), title: z.string() })),
    nextSteps: z.array(z.string()),
  })
  .meta({ id: 'Timeline' })

/** The ids keyrotor accepts as correlation ids (see correlationIdOf in app.ts). */
export const TimelineParams = z.object({
  correlationId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
})
export const TimelineQuery = z.object({
  format: z.enum(['json', 'md']).optional().describe('md: Markdown for an incident ticket'),
})

export const ScheduleEntry = z.object({
  key: z.string(),
  rotationPeriod: nullableString,
  window: nullableString,
  activeVersion: z.number().int().nullable(),
  activeSince: nullableTimestamp,
  dueAt: nullableTimestamp.describe("when the active version's period ends"),
  nextAttemptAt: nullableTimestamp.describe('the earliest time the scheduler may start the rotation'),
  status: z.enum(SCHEDULE_STATUSES),
  reason: z.string(),
  runId: nullableString,
  idempotencyKey: nullableString.describe("set when status is 'due'"),
})

export const Schedule = z.object({
  at: timestamp,
  halted: z.boolean(),
  concurrency: z.number().int(),
  running: z.number().int().describe('scheduled runs not yet finished'),
  keys: z.array(ScheduleEntry),
})

export const HealthStatus = z.object({ status: z.literal('ok') })
export const ReadyStatus = z.object({
  status: z.enum(['ready', 'not_ready']),
  reasons: z.array(z.string()).optional(),
})
