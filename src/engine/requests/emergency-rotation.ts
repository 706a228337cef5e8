import type { ApprovalPort } from './approval-port.js'
import type { Role } from '../../domain/roles.js'
import type { IncidentOpener } from '../../observability/incidents.js'
import { createApprovedRuns } from './approved-runs.js'
import type { EngineDeps } from '../engine-deps.js'
import type { RunRequestResult, RunService } from '../runs/rotation-service.js'

/** A suspected compromise should not wait long for its approver. */
const APPROVAL_TTL_MS = 4 * 3_600_000

/**
 * Emergency rotation (DESIGN §3): requested with a reason, approved by a security token other
 * than the requester's, then it jumps the queue (priority 0), tells every dependent the old
 * version is compromised, marks it so, revokes it as soon as dependents let go (no grace
 * period), always validates, and opens an incident.
 */
export function createEmergencyRotation(
  deps: Pick<EngineDeps, 'now'> & {
    runs: Pick<RunService, 'request'>
    approvals: ApprovalPort
    incidents: IncidentOpener
  },
) {
  const approved = createApprovedRuns(deps, {
    kind: 'emergency-rotate',
    action: 'emergency-rotate',
    requiredRoles: ['security'],
    ttlMs: APPROVAL_TTL_MS,
    onApproved: async (run, approval, trx) => {
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
  })

  return {
    request(input: {
      keyId: string
      requestedBy: { user: string; role: Role }
      reason: string | undefined
      idempotencyKey?: string | undefined
      attempt?: number | undefined
    }): Promise<RunRequestResult> {
      return approved.request(input)
    },
  }
}

export type EmergencyRotation = ReturnType<typeof createEmergencyRotation>
