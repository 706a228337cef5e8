import { decodePolicy } from '../../store/key-columns.js'
import type { ApprovalPort } from './approval-port.js'
import { requireKey } from '../../store/keys-repository.js'
import { createApprovedRuns } from './approved-runs.js'
import type { EngineDeps } from '../engine-deps.js'
import type { RunRequest, RunRequestResult, RunService } from '../runs/rotation-service.js'

/**
 * Where manual and scheduled rotations enter: a key whose policy says `requireApproval` gets a
 * run that waits in awaiting_approval until an admin or a security person other than the
 * requester approves it; every other rotation is queued at once.
 */
export function createRotationRequests(
  deps: Pick<EngineDeps, 'db' | 'now'> & {
    runs: Pick<RunService, 'request'>
    approvals: ApprovalPort
  },
) {
  const approved = createApprovedRuns(deps, 'rotate')

  return {
    async request(request: RunRequest): Promise<RunRequestResult> {
      if (request.kind !== 'rotate' || request.awaitApproval === true) return deps.runs.request(request)
      const key = await requireKey(deps.db, request.keyId)
      if (decodePolicy(key.policy, key.id).requireApproval !== true) return deps.runs.request(request)
      return approved.request({
        keyId: request.keyId,
        requestedBy: { user: request.actor, role: request.actorRole ?? 'operator' },
        reason: request.reason ?? `rotation of ${request.keyId} (policy requireApproval)`,
        idempotencyKey: request.idempotencyKey,
        attempt: request.attempt,
        trigger: request.trigger,
      })
    },
  }
}

export type RotationRequests = ReturnType<typeof createRotationRequests>
