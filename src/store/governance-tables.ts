import type { ApprovalAction, ApprovalState } from '../domain/approvals.js'
import type { Role } from '../domain/roles.js'

// Row types of the tables of tokens, config versions and proposals, the halt and approvals (see
// tables.ts for the conventions and the Database that lists every table).

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

export interface HaltTable {
  id: number
  engaged: number
  reason: string | null
  engaged_by: string | null
  since: string | null
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
