import { KeyrotorError } from '../../errors.js'
import type { ApprovalPort } from './approval-port.js'
import type { Role } from '../../domain/roles.js'
import { requireKey } from '../../store/keys-repository.js'
import { createApprovedRuns } from './approved-runs.js'
import type { EngineDeps } from '../engine-deps.js'
import type { RunRequestResult, RunService } from '../runs/rotation-service.js'

/** How long a forward correction waits for its security approval. */
const APPROVAL_TTL_MS = 24 * 3_600_000

/**
 * Forward correction (DESIGN §4.8): after a partial execution, a security-approved run of kind
 * `forward-correct` drives the key forward to a consistent state. It is requested while the halt
 * is engaged, and only for a key whose last rotation stopped past promote.
 */
export function createForwardCorrection(
  deps: Pick<EngineDeps, 'db' | 'now'> & {
    runs: Pick<RunService, 'request'>
    approvals: ApprovalPort
  },
) {
  const approved = createApprovedRuns(deps, {
    kind: 'forward-correct',
    action: 'forward-correct',
    requiredRoles: ['security'],
    ttlMs: APPROVAL_TTL_MS,
  })

  return {
    async request(input: {
      keyId: string
      requestedBy: { user: string; role: Role }
      reason: string | undefined
      idempotencyKey?: string | undefined
    }): Promise<RunRequestResult> {
      await requireKey(deps.db, input.keyId)
      const stopped = await deps.db
        .selectFrom('runs')
        .select('id')
        .where('key_id', '=', input.keyId)
        .where((eb) =>
          eb.or([
            eb('state', '=', 'halted'),
            eb.and([
              eb('state', '=', 'failed'),
              eb('failure_phase', 'in', ['promote', 'confirm', 'validate']),
            ]),
          ]),
        )
        .executeTakeFirst()
      if (stopped === undefined) {
        throw new KeyrotorError(
          'PREFLIGHT_REJECTED',
          `key ${input.keyId} has no rotation stopped past promote: there is nothing to correct forward (a run that failed before promote is retried)`,
        )
      }
      return approved.request(input)
    },
  }
}

export type ForwardCorrection = ReturnType<typeof createForwardCorrection>
