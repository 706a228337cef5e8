import type { Generated, Insertable, Selectable, Updateable } from 'kysely'
import type { VersionState } from '../domain/lifecycle.js'
import type { Phase } from '../domain/phases.js'
import type { RunKind, RunState, Trigger } from '../domain/runs.js'
import type { FailureClass } from '../errors.js'
import type {
  ApprovalDecisionsTable,
  ApprovalsTable,
  ConfigProposalsTable,
  ConfigVersionsTable,
  HaltTable,
  TokensTable,
} from './governance-tables.js'
import type {
  AlertsTable,
  AuditEventsTable,
  AuditHeadTable,
  AuditStreamCursorsTable,
  IncidentTicketsTable,
  IncidentsTable,
  NotificationOutboxTable,
  VerificationsTable,
} from './record-tables.js'

export type {
  ApprovalDecisionsTable,
  ApprovalsTable,
  ConfigProposalsTable,
  ConfigVersionsTable,
  HaltTable,
  TokensTable,
} from './governance-tables.js'
export type {
  AlertsTable,
  AuditEventsTable,
  AuditHeadTable,
  AuditStreamCursorsTable,
  IncidentTicketsTable,
  IncidentsTable,
  NotificationOutboxTable,
  VerificationsTable,
} from './record-tables.js'

/**
 * Where a run stands in its phase: 'pending' before its first phase began, 'started' while a phase
 * acts (its intent is recorded), 'done' once its outcome is.
 */
export type PhaseStatus = 'pending' | 'started' | 'done'

/**
 * Row types of every table. Times are ISO-8601 UTC strings; JSON columns hold text, which only the
 * store's column decoders read (`*-columns.ts`, `approvals-repository.ts`). A column that
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
