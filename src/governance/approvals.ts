import { randomBytes } from 'node:crypto'
import type { Kysely, Transaction } from 'kysely'
import type { AuditLog } from '../audit/audit-log.js'
import { assertNoSecrets } from '../audit/secret-guard.js'
import { isKeyrotorError, KeyrotorError } from '../errors.js'
import { hasOverdueApproval, insertApproval, storedDigest } from '../store/approvals-repository.js'
import type { Database } from '../store/tables.js'
import {
  expireOverdue,
  insertDecision,
  loadView,
  pageViews,
  lockView,
  setState,
  type ApprovalListQuery,
  type ApprovalView,
} from './approval-records.js'
import {
  approvalDigest,
  assertValidRequest,
  checkApprove,
  checkReject,
  type Decider,
} from './approval-rules.js'
import type { ApprovalAction, ApprovalRequest, ApprovalState } from '../domain/approvals.js'

export type { ApprovalListQuery, ApprovalView } from './approval-records.js'
export { APPROVAL_ACTIONS, APPROVAL_STATES } from '../domain/approvals.js'
export type { ApprovalAction, ApprovalRequest, ApprovalState, RoleRequirement } from '../domain/approvals.js'
export type { Decider } from './approval-rules.js'

/** Carries out an approved action inside the transaction that records the final approval. */
export type ApprovalExecutor = (approval: ApprovalView, trx: Transaction<Database>) => Promise<void>

/** Optional per-action hooks besides the executor. */
export interface ApprovalHooks {
  /**
   * Runs before the transaction of an approval that would complete the request, outside it: for
   * checks that reach beyond the store (verify --all asks providers and dependents), which must
   * not hold a transaction open, and on SQLite cannot (its one connection is the transaction's).
   * A throw refuses the approval and records nothing.
   */
  precheck?: (approval: ApprovalView, approver: Decider) => Promise<void>
  /** Runs in the transaction that rejects (or withdraws) the request. */
  onRejected?: (approval: ApprovalView, trx: Transaction<Database>) => Promise<void>
  /** Runs in the transaction that marks the request expired. */
  onExpired?: (approval: ApprovalView, trx: Transaction<Database>) => Promise<void>
}

export interface ApprovalServiceDeps {
  db: Kysely<Database>
  audit: Pick<AuditLog, 'append'>
  now: () => Date
}

export type ApprovalService = ReturnType<typeof createApprovalService>

// the actor of records nobody in particular caused (an approval running out of time)
const SYSTEM_ACTOR = 'keyrotor'
// a precheck that raced with another approver is retried this often before giving up
const MAX_ATTEMPTS = 3

/**
 * Four-eyes approvals. Deciders of one approval serialize on its row (the first statement of each
 * decision writes it), one decision per person is the table's primary key, and the executor runs
 * in the transaction that records the completing approval: it runs once, or not at all.
 */
export function createApprovalService(deps: ApprovalServiceDeps) {
  const { db, audit } = deps
  const handlers = new Map<ApprovalAction, { execute: ApprovalExecutor; hooks: ApprovalHooks }>()

  function handlerOf(action: ApprovalAction) {
    const handler = handlers.get(action)
    if (handler === undefined) throw new KeyrotorError('INTERNAL', `no executor for approvals of ${action}`)
    return handler
  }

  /** Marks overdue pending approvals expired (lazily, on every read and decision). */
  async function expireDue(): Promise<void> {
    const at = deps.now().toISOString()
    // a plain read first: reads should not take SQLite's write lock when nothing is overdue
    if (!(await hasOverdueApproval(db, at))) return
    await db.transaction().execute(async (trx) => {
      for (const view of await expireOverdue(trx, at)) {
        await audit.append(trx, {
          actor: SYSTEM_ACTOR,
          action: 'approval.expired',
          target: view.id,
          correlationId: view.correlationId,
          details: { action: view.action, subject: view.subject },
        })
        await handlers.get(view.action)?.hooks.onExpired?.(view, trx)
      }
    })
  }

  /**
   * Runs a four-eyes check; a refusal of who the decider is (the requester under any spelling of
   * their name, a token newer than the request, a role not asked for) is audited before it is
   * thrown: these are the attempts a reviewer wants to see.
   */
  async function refusalsAudited<T>(approval: ApprovalView, decider: Decider, check: () => T): Promise<T> {
    try {
      return check()
    } catch (error) {
      if (isKeyrotorError(error, 'SELF_APPROVAL') || isKeyrotorError(error, 'FORBIDDEN')) {
        await audit.append(db, {
          actor: decider.user,
          action: 'approval.refused',
          target: approval.id,
          correlationId: approval.correlationId,
          reason: error.message,
          details: {
            action: approval.action,
            subject: approval.subject,
            code: error.code,
            role: decider.role,
            tokenId: decider.id,
            tokenCreatedAt: decider.createdAt,
            requestedAt: approval.createdAt,
          },
        })
      }
      throw error
    }
  }

  async function record(
    trx: Transaction<Database>,
    approval: ApprovalView,
    decider: Decider,
    decision: 'approved' | 'rejected',
    reason: string | undefined,
  ): Promise<void> {
    await insertDecision(trx, approval.id, decider, decision, reason ?? null, deps.now().toISOString())
    await audit.append(trx, {
      actor: decider.user,
      action: `approval.${decision}`,
      target: approval.id,
      correlationId: approval.correlationId,
      reason,
      details: {
        action: approval.action,
        subject: approval.subject,
        role: decider.role,
        tokenId: decider.id,
      },
    })
  }

  return {
    /** The executor (and hooks) of `action`; an action without one cannot be requested. */
    register(action: ApprovalAction, execute: ApprovalExecutor, hooks: ApprovalHooks = {}): void {
      handlers.set(action, { execute, hooks })
    },

    /** Records a pending request through `executor` (the caller's transaction, if it has one). */
    async request(executor: Kysely<Database>, input: ApprovalRequest): Promise<ApprovalView> {
      assertValidRequest(input)
      handlerOf(input.action)
      assertNoSecrets(input.payload)
      const now = deps.now()
      const id = `apr_${now.getTime().toString(36)}${randomBytes(4).toString('hex')}`
      await insertApproval(executor, {
        id,
        action: input.action,
        subject: input.subject,
        digest: approvalDigest(input.action, input.subject, input.payload),
        payload: input.payload,
        state: 'pending',
        requested_by: input.requestedBy.user,
        reason: input.reason,
        required_roles: input.requiredRoles,
        run_id: input.runId ?? null,
        correlation_id: input.correlationId,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + input.ttlMs).toISOString(),
        decided_at: null,
      })
      await audit.append(executor, {
        actor: input.requestedBy.user,
        action: 'approval.requested',
        target: id,
        correlationId: input.correlationId,
        reason: input.reason,
        details: {
          action: input.action,
          subject: input.subject,
          role: input.requestedBy.role,
          requiredRoles: input.requiredRoles,
          runId: input.runId ?? null,
        },
      })
      return loadView(executor, id)
    },

    /**
     * Records `decider`'s approval; the one that covers the last missing role checks the digest,
     * marks the request approved and runs the action's executor in the same transaction (a
     * throwing executor leaves no trace of the approval and its error propagates).
     */
    async approve(id: string, decider: Decider, reason?: string): Promise<ApprovalView> {
      await expireDue()
      for (let attempt = 1; ; attempt++) {
        const seen = await loadView(db, id)
        const completes = await refusalsAudited(seen, decider, () => checkApprove(seen, decider, deps.now()))
        const { execute, hooks } = handlerOf(seen.action)
        if (completes && hooks.precheck !== undefined) await hooks.precheck(seen, decider)
        const outcome = await db.transaction().execute(async (trx) => {
          const current = await lockView(trx, id)
          const completesNow = checkApprove(current, decider, deps.now())
          // another approver landed since the read: this one completes it unchecked, so check first
          if (completesNow && !completes && hooks.precheck !== undefined) return undefined
          await record(trx, current, decider, 'approved', reason)
          if (!completesNow) return loadView(trx, id)
          if (
            (await storedDigest(trx, id)) !== approvalDigest(current.action, current.subject, current.payload)
          ) {
            throw new KeyrotorError('CONFLICT', `approval ${id} no longer matches what was requested`)
          }
          const approved = await setState(trx, id, 'approved', deps.now().toISOString())
          await execute(approved, trx)
          await audit.append(trx, {
            actor: decider.user,
            action: 'approval.executed',
            target: id,
            correlationId: approved.correlationId,
            details: { action: approved.action, subject: approved.subject, approvedBy: approved.approvals },
          })
          return approved
        })
        if (outcome !== undefined) return outcome
        if (attempt >= MAX_ATTEMPTS) throw new KeyrotorError('CONFLICT', `approval ${id} keeps changing`)
      }
    },

    /**
     * Rejects the request: a required role's veto, or the requester withdrawing it. Either way
     * it is final; the action's `onRejected` hook runs in the same transaction.
     */
    async reject(id: string, decider: Decider, reason: string): Promise<ApprovalView> {
      if (reason.trim() === '') throw new KeyrotorError('BAD_REQUEST', 'a rejection needs a reason')
      await expireDue()
      return db.transaction().execute(async (trx) => {
        const current = await lockView(trx, id)
        checkReject(current, decider, deps.now())
        await record(trx, current, decider, 'rejected', reason)
        const rejected = await setState(trx, id, 'rejected', deps.now().toISOString())
        await handlers.get(rejected.action)?.hooks.onRejected?.(rejected, trx)
        return rejected
      })
    },

    /** Newest first: all of them, or one page with `page` (every approval when no limit is given). */
    async list(filter: { state?: ApprovalState } = {}): Promise<ApprovalView[]> {
      await expireDue()
      return (await pageViews(db, filter)).items
    },

    async page(query: ApprovalListQuery = {}) {
      await expireDue()
      return pageViews(db, query)
    },

    async get(id: string): Promise<ApprovalView> {
      await expireDue()
      return loadView(db, id)
    },
  }
}
