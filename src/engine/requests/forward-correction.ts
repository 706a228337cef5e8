import type { EngineDeps } from '../engine-deps.js'
import type { RunRequestResult } from '../runs/rotation-service.js'
import { createApprovedRuns, type ApprovedRunDeps, type ApprovedRunRequest } from './approved-runs.js'

/**
 * Forward correction (DESIGN §4.8): after a partial execution, a security-approved run of kind
 * `forward-correct` drives the key forward to a consistent state. It is requested while the halt
 * is engaged, and only for a key whose last rotation stopped past promote (APPROVED_RUN_KINDS).
 */
export function createForwardCorrection(deps: ApprovedRunDeps & Pick<EngineDeps, 'db'>) {
  const approved = createApprovedRuns(deps, 'forward-correct')
  return {
    request(input: Omit<ApprovedRunRequest, 'trigger' | 'attempt'>): Promise<RunRequestResult> {
      return approved.request(input)
    },
  }
}

export type ForwardCorrection = ReturnType<typeof createForwardCorrection>
