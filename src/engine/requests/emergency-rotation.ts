import type { IncidentOpener } from '../../observability/incidents.js'
import { createApprovedRuns, type ApprovedRunDeps, type ApprovedRunRequest } from './approved-runs.js'
import type { RunRequestResult } from '../runs/rotation-service.js'

/**
 * Emergency rotation (DESIGN §3): requested with a reason, approved by a security token other
 * than the requester's, then it jumps the queue (priority 0), tells every dependent the old
 * version is compromised, marks it so, revokes it as soon as dependents let go (no grace
 * period), always validates, and opens an incident. Its approval: APPROVED_RUN_KINDS.
 */
export function createEmergencyRotation(deps: ApprovedRunDeps & { incidents: IncidentOpener }) {
  const approved = createApprovedRuns(deps, 'emergency-rotate')
  return {
    request(input: Omit<ApprovedRunRequest, 'trigger'>): Promise<RunRequestResult> {
      return approved.request(input)
    },
  }
}

export type EmergencyRotation = ReturnType<typeof createEmergencyRotation>
