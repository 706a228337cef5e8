import type { Generated, Insertable, Selectable, Updateable } from 'kysely'
import type { AlertSeverity, AlertState, AlertType } from '../domain/alerts.js'
import type { ApprovalAction, ApprovalState } from '../domain/approvals.js'
import type { IncidentSeverity, IncidentState } from '../domain/incidents.js'
import type { VersionState } from '../domain/lifecycle.js'
import type { Phase } from '../domain/phases.js'
import type { Role } from '../domain/roles.js'
import type { RunKind, RunState, Trigger } from '../domain/runs.js'
import type { FailureClass } from '../errors.js'

/**
 * Where a run stands in its phase: 'pending' before its first phase began, 'started' while a phase
 * acts (its intent is recorded), 'done' once its outcome is.
 */
export type PhaseStatus = 'pending' | 'started' | 'done'

/**
 * Row types of every table. Times are ISO-8601 UTC strings; JSON columns hold text. A column that
 * holds one of the domain's values is typed with its union, so a read needs no cast and a write of
 * anything else does not compile.
 */
export interface KeysTable {
  id: string
  provider: string
  algorithm: string
  owner: string
  /** KeyPolicy as JSON. */
  policy: string
  created_at: string
  updated_at: string
  /** Set when the provider showed a state the store did not put there: no rotation until verified. */
  frozen_at: string | null
  frozen_reason: string | null
}

export interface KeyVersionsTable {
  key_id: string
  version: number
  state: VersionState
  compromised: number
  provider_ref: string
  created_at: string
  updated_at: string
  /** Set when a revoke run begins for this version: the JWKS stops publishing it. */
  revoke_started_at: string | null
  /** Earliest time a revoke run may act on this retiring version (end of the grace period). */
  revoke_due_at: string | null
}

export interface KeyAliasesTable {
  name: string
  key_id: string
  version: number
}

export interface DependentsTable {
  key_id: string
  name: string
  critical: number
  /** DependentTarget probe/notify as JSON (never the secret, only its env name). */
  probe: string
  notify: string | null
  last_probe_at: string | null
  /** JSON array of versions, from the last answer. */
  last_accepts: string | null
  last_active: number | null
  last_error: string | null
  last_notice: string | null
  last_notice_at: string | null
}

export interface RunsTable {
  id: string
  key_id: string
  kind: RunKind
  state: RunState
  phase: Phase
  phase_status: PhaseStatus
  from_version: number | null
  to_version: number | null
  correlation_id: string
  idempotency_key: string | null
  trigger: Trigger
  requested_by: string
  reason: string | null
  priority: number
  attempt: number | null
  failure_class: FailureClass | null
  failure_phase: Phase | null
  failure_message: string | null
  duplicate_count: number
  validation: string | null
  /** Which worker holds the run, until when, and the fencing token of that claim. */
  lease_owner: string | null
  lease_expires_at: string | null
  fencing_token: number
  /** The run may not start before this time (a revoke waits for the grace period). */
  not_before: string | null
  created_at: string
  started_at: string | null
  finished_at: string | null
  /** key_id while the run is non-terminal, else null: the unique index on it allows one per key. */
  active_key: string | null
  /** A cancel asked for while the run ran: honoured at the next phase boundary before promote. */
  cancel_requested_at: string | null
  /** The approval a run waits for (forward correction, emergency). */
  approval_id: string | null
}

export interface RunEventsTable {
  id: Generated<number>
  run_id: string
  correlation_id: string
  at: string
  type: string
  phase: string | null
  message: string
  data: string | null
}

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

export interface TokensTable {
  id: string
  user_name: string
  role: Role
  key_id: string | null
  hash: string
  created_at: string
  created_by: string
  expires_at: string | null
  revoked_at: string | null
  last_used_at: string | null
}

export interface ConfigVersionsTable {
  version: number
  hash: string
  body: string
  source: string
  created_at: string
  created_by: string
  active: number
}

/** A proposed configuration change (config propose → approve → apply). */
export interface ConfigProposalsTable {
  id: string
  /** The proposed keyrotor.yaml; it names secrets' environment variables, never their values. */
  body: string
  hash: string
  /** The active config version the proposal was made against. */
  base_version: number
  /** Unified line diff of the body against the base version's body. */
  diff: string
  summary: string
  rollback_plan: string
  /** pending | approved | applied | rejected | expired */
  state: string
  proposed_by: string
  created_at: string
  approval_id: string
  approved_by: string | null
  approved_at: string | null
  applied_by: string | null
  applied_at: string | null
  applied_version: number | null
  decided_at: string | null
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

export interface HaltTable {
  id: number
  engaged: number
  reason: string | null
  engaged_by: string | null
  since: string | null
}

/** The local provider's own keystore: material encrypted under the master key. */
export interface LocalKeystoreTable {
  key_id: string
  version: number
  algorithm: string
  state: string
  /** AES-256-GCM ciphertext of the private/secret JWK: base64url(iv).base64url(tag).base64url(ct). */
  sealed_material: string
  /** Public JWK as JSON for asymmetric keys, else null. */
  public_jwk: string | null
  created_at: string
}

export interface LocalAliasesTable {
  key_id: string
  alias: string
  version: number
}

export interface ApprovalsTable {
  id: string
  action: ApprovalAction
  subject: string
  digest: string
  /** The approved action's parameters as JSON (never a secret). */
  payload: string
  state: ApprovalState
  requested_by: string
  reason: string
  /** JSON array of roles that must each approve, each by a different person. */
  required_roles: string
  run_id: string | null
  correlation_id: string
  created_at: string
  expires_at: string
  decided_at: string | null
}

export interface ApprovalDecisionsTable {
  approval_id: string
  by_user: string
  role: Role
  decision: string
  reason: string | null
  at: string
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

export interface Database {
  keys: KeysTable
  key_versions: KeyVersionsTable
  key_aliases: KeyAliasesTable
  dependents: DependentsTable
  runs: RunsTable
  run_events: RunEventsTable
  audit_events: AuditEventsTable
  audit_head: AuditHeadTable
  tokens: TokensTable
  config_versions: ConfigVersionsTable
  config_proposals: ConfigProposalsTable
  alerts: AlertsTable
  halt: HaltTable
  local_keystore: LocalKeystoreTable
  local_aliases: LocalAliasesTable
  approvals: ApprovalsTable
  approval_decisions: ApprovalDecisionsTable
  incidents: IncidentsTable
  verifications: VerificationsTable
  notification_outbox: NotificationOutboxTable
  audit_stream_cursors: AuditStreamCursorsTable
  incident_tickets: IncidentTicketsTable
}

export type RunRow = Selectable<RunsTable>
export type NewRun = Insertable<RunsTable>
export type RunUpdate = Updateable<RunsTable>
export type KeyRow = Selectable<KeysTable>
export type KeyVersionRow = Selectable<KeyVersionsTable>
export type DependentRow = Selectable<DependentsTable>
export type TokenRow = Selectable<TokensTable>
export type AlertRow = Selectable<AlertsTable>
export type ApprovalRow = Selectable<ApprovalsTable>
export type IncidentRow = Selectable<IncidentsTable>
export type NotificationRow = Selectable<NotificationOutboxTable>
export type IncidentTicketRow = Selectable<IncidentTicketsTable>
