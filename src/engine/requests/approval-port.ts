import type { Kysely, Transaction } from 'kysely'
import type { ApprovalAction, ApprovalRequest } from '../../domain/approvals.js'
import type { Database } from '../../store/tables.js'

/** What the engine reads of an approval it asked for: which one, and the payload it was granted for. */
export interface GrantedApproval {
  id: string
  payload: Record<string, unknown>
}

/** Runs inside the transaction that records the decision (or the expiry). */
export type ApprovalCallback = (approval: GrantedApproval, trx: Transaction<Database>) => Promise<void>

/**
 * The four-eyes approvals the engine's approved runs need. Declared here, below governance/, so
 * that the engine does not import it: governance/approvals.ts implements it and main.ts passes
 * that service in.
 */
export interface ApprovalPort {
  /** The callbacks of `action`: `execute` on the completing approval, the hooks on a rejection or expiry. */
  register(
    action: ApprovalAction,
    execute: ApprovalCallback,
    hooks?: { onRejected?: ApprovalCallback; onExpired?: ApprovalCallback },
  ): void
  /** Records a pending request through `executor` (the caller's transaction). */
  request(executor: Kysely<Database>, input: ApprovalRequest): Promise<{ id: string }>
}
