import type { Kysely } from 'kysely'
import type { AuditLog } from '../audit/audit-log.js'
import { engageHalt, readHalt, releaseHalt, type HaltStatus } from '../store/halt-repository.js'
import { KeyrotorError } from '../errors.js'
import type { AlertService } from '../observability/alerts.js'
import type { IncidentOpener } from '../observability/incidents.js'
import type { Database } from '../store/tables.js'
import type { ApprovalService, ApprovalView, Decider } from './approvals.js'

/** The outcome of `verify --all`: the store against providers and dependents, key by key. */
export interface VerifyAllResult {
  passed: boolean
  keys: { key: string; passed: boolean; mismatches: string[] }[]
}

/** `createVerifyService(…).verifyAll` fits; `actor` is who asked, for its record. */
export type VerifyAll = (actor: string, purpose?: string) => Promise<VerifyAllResult>

export interface HaltControlDeps {
  db: Kysely<Database>
  audit: Pick<AuditLog, 'append'>
  alerts: Pick<AlertService, 'raise' | 'resolve'>
  incidents: IncidentOpener
  approvals: Pick<ApprovalService, 'register' | 'request' | 'list'>
  verifyAll: VerifyAll
  now: () => Date
  /** How long a release request waits for its approvals (default 4 hours). */
  releaseTtlMs?: number
}

/** Two different people, neither the requester (DESIGN §4.8). */
export const RELEASE_ROLES = ['security', 'admin'] as const

export type HaltControl = ReturnType<typeof createHaltControl>

/**
 * Engaging and releasing the global halt by hand. Engaging takes one guardian; releasing takes a
 * passing `verify --all`, a request and the approval of a security and an admin person other
 * than the requester, and a second passing `verify --all` when the last of them approves.
 */
export function createHaltControl(deps: HaltControlDeps) {
  const { db, audit, alerts } = deps

  async function requireVerified(actor: string): Promise<void> {
    const result = await deps.verifyAll(actor, 'halt.release')
    if (result.passed) return
    const failing = result.keys.filter((k) => !k.passed)
    // the refused request is recorded: who tried to release before the keys were consistent
    await db.transaction().execute((trx) =>
      audit.append(trx, {
        actor,
        action: 'halt.release_refused',
        target: 'halt',
        details: { code: 'NOT_VERIFIED', failing: failing.map((k) => k.key) },
      }),
    )
    throw new KeyrotorError(
      'NOT_VERIFIED',
      `verify --all fails for ${failing.map((k) => k.key).join(', ') || 'some keys'}; the halt stays engaged`,
      { details: { mismatches: failing.map((k) => ({ key: k.key, mismatches: k.mismatches })) } },
    )
  }

  deps.approvals.register(
    'halt.release',
    async (approval, trx) => {
      const halt = await readHalt(trx)
      // the approval names the halt it releases: it never releases a later one
      if (!halt.engaged || halt.since !== approval.payload.since) {
        throw new KeyrotorError('CONFLICT', `the halt approval ${approval.id} was for is no longer engaged`)
      }
      await releaseHalt(trx)
      const resolved = [
        ...(await alerts.resolve({ type: 'halt_engaged' }, trx)),
        ...(await alerts.resolve({ type: 'partial_execution' }, trx)),
      ]
      await audit.append(trx, {
        actor: approval.approvals.at(-1)?.by ?? approval.requestedBy,
        action: 'halt.released',
        target: 'halt',
        correlationId: approval.correlationId,
        reason: approval.reason,
        details: {
          engagedBy: halt.by,
          engagedSince: halt.since,
          engagedReason: halt.reason,
          approvalId: approval.id,
          requestedBy: approval.requestedBy,
          approvedBy: approval.approvals.map((a) => `${a.by} (${a.role})`),
          resolvedAlerts: resolved.map((a) => a.id),
        },
      })
    },
    // verify talks to providers and dependents: before the transaction, never inside it
    { precheck: async (_approval, approver) => requireVerified(approver.user) },
  )

  return {
    /** Engages the halt, with its audit record, a critical alert and an incident, all at once. */
    async engage(by: Decider, reason: string, correlationId: string): Promise<HaltStatus> {
      if (reason.trim() === '') throw new KeyrotorError('BAD_REQUEST', 'engaging the halt needs a reason')
      return db.transaction().execute(async (trx) => {
        const at = deps.now().toISOString()
        if (!(await engageHalt(trx, by.user, reason, at))) {
          const halt = await readHalt(trx)
          throw new KeyrotorError('CONFLICT', `the halt is engaged already since ${halt.since} by ${halt.by}`)
        }
        await audit.append(trx, {
          actor: by.user,
          action: 'halt.engaged',
          target: 'halt',
          correlationId,
          reason,
          details: { role: by.role, tokenId: by.id },
        })
        const message = `global halt engaged by ${by.user}: ${reason}`
        await alerts.raise(trx, { type: 'halt_engaged', severity: 'critical', correlationId, message })
        await deps.incidents.open(trx, {
          severity: 'critical',
          title: `Global halt engaged by ${by.user}`,
          summary: reason,
          correlationId,
        })
        return readHalt(trx)
      })
    },

    /**
     * Asks to release the halt: CONFLICT when it is not engaged, NOT_VERIFIED while verify --all
     * fails; else the pending release approval (an existing one for this halt is answered again).
     * Without a reason, the request says which halt it releases.
     */
    async requestRelease(
      by: Decider,
      reason: string | undefined,
      correlationId: string,
    ): Promise<ApprovalView> {
      const halt = await readHalt(db)
      if (!halt.engaged) throw new KeyrotorError('CONFLICT', 'the halt is not engaged')
      // `keyrotor halt release` sends no reason: the halt's own reason is what is being undone
      const why = reason?.trim() ? reason : `release the halt engaged by ${halt.by}: ${halt.reason}`
      await requireVerified(by.user)
      const pending = await deps.approvals.list({ state: 'pending' })
      const existing = pending.find((a) => a.action === 'halt.release' && a.payload.since === halt.since)
      if (existing !== undefined) return existing
      return deps.approvals.request(db, {
        action: 'halt.release',
        subject: 'halt',
        payload: { since: halt.since, engagedBy: halt.by, engagedReason: halt.reason },
        requiredRoles: [...RELEASE_ROLES],
        requestedBy: { user: by.user, role: by.role },
        reason: why,
        ttlMs: deps.releaseTtlMs ?? 4 * 3_600_000,
        correlationId,
      })
    },
  }
}
