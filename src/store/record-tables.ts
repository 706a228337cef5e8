import type { Generated } from 'kysely'
import type { AlertSeverity, AlertState, AlertType } from '../domain/alerts.js'
import type { IncidentSeverity, IncidentState } from '../domain/incidents.js'

// Row types of what keyrotor records and tells: the audit chain, alerts, incidents, verifications
// and the notification outbox (see tables.ts for the conventions and the Database).

export interface AuditEventsTable {
  seq: Generated<number>
  at: string
  actor: string
  action: string
  target: string | null
  correlation_id: string | null
  reason: string | null
  details: string | null
  /** The hash of the record before (src/audit/chain.ts); null only on records not yet chained. */
  prev_hash: string | null
  /** HMAC over every column of this record including prev_hash. */
  hash: string | null
}

/** One row (id 1) that audit appenders lock so the chain grows one record at a time. */
export interface AuditHeadTable {
  id: number
}

export interface AlertsTable {
  id: string
  type: AlertType
  severity: AlertSeverity
  key_id: string | null
  run_id: string | null
  correlation_id: string | null
  message: string
  count: number
  state: AlertState
  /** (type, key, run) joined: repeats raise `count` instead of adding a row. */
  dedup_key: string
  created_at: string
  updated_at: string
}

export interface IncidentsTable {
  id: string
  state: IncidentState
  severity: IncidentSeverity
  title: string
  summary: string
  correlation_id: string | null
  run_id: string | null
  key_id: string | null
  /** Who is told: e.g. "security-lead,platform-lead". */
  escalated_to: string
  opened_at: string
  closed_at: string | null
  closed_by: string | null
  rca: string | null
}

export interface VerificationsTable {
  id: string
  /** 'key', 'run' or 'all'. */
  scope: string
  key_id: string | null
  run_id: string | null
  passed: number
  /** JSON array of mismatch descriptions. */
  mismatches: string
  by_user: string
  at: string
}

export interface NotificationOutboxTable {
  id: string
  /** 'alerts' or 'incidents': the notifications list of the config the sink is in. */
  channel: string
  /** A stable id of the sink (channel, type and a hash of its URL); never the URL or a secret. */
  sink: string
  sink_type: string
  /** The alert or incident the row tells about; rows of one subject go out in order. */
  subject_id: string
  event: string
  /** The alert or incident JSON as it was at the change. */
  payload: string
  /** 'pending', 'delivered' or 'failed' (gave up after the last attempt). */
  state: string
  attempts: number
  last_error: string | null
  next_attempt_at: string
  created_at: string
  updated_at: string
  delivered_at: string | null
}

/** The ticket a ticketing sink opened for an incident (migration 008). */
export interface IncidentTicketsTable {
  incident_id: string
  /** The sink's id, as in notification_outbox: never a URL or a credential. */
  sink: string
  sink_type: string
  /** The ticketing system's id: a GitHub issue number, a Jira issue key, a ServiceNow sys_id. */
  external_id: string
  /** Where a person opens the ticket, when the system says. */
  external_url: string | null
  created_at: string
}

/** How far each audit sink has received the chain (migration 007). */
export interface AuditStreamCursorsTable {
  /** A stable id of the sink (type and a hash of its address); never a secret. */
  sink: string
  sink_type: string
  /** The last seq the sink acknowledged; 0 before the first. */
  delivered_seq: number | string
  /** Failed attempts since the last success. */
  attempts: number
  last_error: string | null
  next_attempt_at: string
  /** An instance sending to this sink holds it until then. */
  leased_until: string
  updated_at: string
}
