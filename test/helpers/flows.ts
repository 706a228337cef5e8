import type { RunView } from '../../src/engine/views.js'
import type { Api, ApiResponse } from './http.js'

/** An approval request as GET /v1/approvals lists it. */
export interface Approval {
  id: string
  action: string
  runId: string
  requiredRoles: string[]
}

/** Asks for an emergency rotation of `key` as `requester`; the run waits for a second person. */
export function requestEmergency(
  api: Api,
  key: string,
  reason: string,
  requester: string,
): Promise<ApiResponse<RunView>> {
  return api<RunView>('POST', `/v1/keys/${key}/rotations`, { emergency: true, reason }, requester)
}

/** The pending approval request of a run; throws when there is none. */
export async function pendingApprovalOf(api: Api, runId: string): Promise<Approval> {
  const approvals = (await api<Approval[]>('GET', '/v1/approvals?state=pending')).body
  const approval = approvals.find((a) => a.runId === runId)
  if (approval === undefined) throw new Error(`no pending approval for ${runId}`)
  return approval
}

/**
 * The emergency approval flow: `requester` asks for the rotation (201), a second person approves
 * it (200). Returns the run as requested; the engine runs it from here.
 */
export async function approvedEmergency(
  api: Api,
  flow: { key: string; reason: string; requester: string; approver: string },
): Promise<RunView> {
  const requested = await requestEmergency(api, flow.key, flow.reason, flow.requester)
  if (requested.status !== 201) throw new Error(`emergency request: ${requested.status} ${requested.text}`)
  const approval = await pendingApprovalOf(api, requested.body.id)
  const approved = await api('POST', `/v1/approvals/${approval.id}/approve`, {}, flow.approver)
  if (approved.status !== 200) throw new Error(`approval: ${approved.status} ${approved.text}`)
  return requested.body
}
