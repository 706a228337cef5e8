import type { Transaction } from 'kysely'
import type { RoleRequirement } from '../../domain/approvals.js'
import type { RunKind } from '../../domain/runs.js'
import { KeyrotorError } from '../../errors.js'
import type { IncidentOpener } from '../../observability/incidents.js'
import { requireKey } from '../../store/keys-repository.js'
import { hasRunStoppedPastPromote } from '../../store/runs-repository.js'
import type { Database, RunRow } from '../../store/tables.js'
import type { EngineDeps } from '../engine-deps.js'
import type { GrantedApproval } from './approval-port.js'

/** The kinds of run that wait in awaiting_approval until a second person approves them. */
export type ApprovedKind = Extract<RunKind, 'forward-correct' | 'emergency-rotate' | 'rotate'>

/** What each kind's hooks need beyond what every approved run needs. */
export interface ApprovedKindDeps {
  'emergency-rotate': { incidents: IncidentOpener }
  'forward-correct': Pick<EngineDeps, 'db'>
  rotate: object
}

/** One row of the table: the approval a kind needs, and what it checks and writes around it. */
export interface ApprovedRunSpec<D> {
  requiredRoles: RoleRequirement[]
  /** How long the request waits for its approver before it expires (and the run is rejected). */
  ttlMs: number
  /** Refuses the request, with a coded error, before anything is written. */
  precondition?: (deps: D, keyId: string) => Promise<void>
  /** More writes when the approval lands, in its transaction. */
  onApproved?: (deps: D, run: RunRow, approval: GrantedApproval, trx: Transaction<Database>) => Promise<void>
}

const HOUR_MS = 3_600_000

/**
 * Every approved run kind in one place (DESIGN §3, §4.8). The approval action of each is its run
 * kind; `approved-runs.ts` drives them all the same way.
 */
export const APPROVED_RUN_KINDS: { [K in ApprovedKind]: ApprovedRunSpec<ApprovedKindDeps[K]> } = {
  // a suspected compromise should not wait long for its approver; once approved the run jumps
  // the queue, marks the old version compromised, revokes it as soon as dependents let go, and
  // opens an incident
  'emergency-rotate': {
    requiredRoles: ['security'],
    ttlMs: 4 * HOUR_MS,
    onApproved: async (deps, run, approval, trx) => {
      await deps.incidents.open(trx, {
        severity: 'critical',
        title: `Emergency rotation of ${run.key_id}`,
        summary: `Suspected compromise: ${run.reason ?? ''}. Requested by ${run.requested_by}, approved (${approval.id}); the old version is marked compromised and revoked as soon as dependents let go.`,
        correlationId: run.correlation_id,
        runId: run.id,
        key: run.key_id,
        escalatedTo: ['security-lead', 'platform-lead'],
      })
    },
  },
  // after a partial execution: drives the key forward to a consistent state, requested (also
  // while the halt is engaged) only for a key whose last rotation stopped past promote
  'forward-correct': {
    requiredRoles: ['security'],
    ttlMs: 24 * HOUR_MS,
    precondition: async (deps, keyId) => {
      await requireKey(deps.db, keyId)
      if (!(await hasRunStoppedPastPromote(deps.db, keyId))) {
        throw new KeyrotorError(
          'PREFLIGHT_REJECTED',
          `key ${keyId} has no rotation stopped past promote: there is nothing to correct forward (a run that failed before promote is retried)`,
        )
      }
    },
  },
  // a rotation under the key's policy requireApproval waits a working day at most for an admin
  // or a security person other than the requester
  rotate: {
    requiredRoles: ['admin|security'],
    ttlMs: 24 * HOUR_MS,
  },
}
