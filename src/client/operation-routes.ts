/**
 * Where each operation of the API lives: its method and path by operationId, as /openapi.json
 * writes them. Kept apart from the schemas (operations.ts) and free of imports, so a CLI command
 * reaches the server without loading zod or the server's modules (its start stays fast);
 * test/openapi-document.test.ts checks every entry against the served document.
 */
export const OPERATION_ROUTES = {
  listKeys: { method: 'GET', path: '/v1/keys' },
  getKey: { method: 'GET', path: '/v1/keys/{key}' },
  startRotation: { method: 'POST', path: '/v1/keys/{key}/rotations' },
  requestForwardCorrection: { method: 'POST', path: '/v1/keys/{key}/forward-corrections' },
  getJwks: { method: 'GET', path: '/v1/keys/{key}/jwks.json' },
  getMaterial: { method: 'GET', path: '/v1/keys/{key}/versions/{version}/material' },
  verifyKey: { method: 'POST', path: '/v1/keys/{key}/verify' },
  verifyAll: { method: 'POST', path: '/v1/verify' },
  listRuns: { method: 'GET', path: '/v1/runs' },
  getRun: { method: 'GET', path: '/v1/runs/{id}' },
  listRunEvents: { method: 'GET', path: '/v1/runs/{id}/events' },
  verifyRun: { method: 'POST', path: '/v1/runs/{id}/verify' },
  retryRun: { method: 'POST', path: '/v1/runs/{id}/retry' },
  cancelRun: { method: 'POST', path: '/v1/runs/{id}/cancel' },
  getSchedule: { method: 'GET', path: '/v1/schedule' },
  getConfig: { method: 'GET', path: '/v1/config' },
  listConfigVersions: { method: 'GET', path: '/v1/config/versions' },
  getConfigVersion: { method: 'GET', path: '/v1/config/versions/{version}' },
  listConfigProposals: { method: 'GET', path: '/v1/config/proposals' },
  getConfigProposal: { method: 'GET', path: '/v1/config/proposals/{id}' },
  proposeConfig: { method: 'POST', path: '/v1/config/proposals' },
  approveConfigProposal: { method: 'POST', path: '/v1/config/proposals/{id}/approve' },
  applyConfigProposal: { method: 'POST', path: '/v1/config/proposals/{id}/apply' },
  listApprovals: { method: 'GET', path: '/v1/approvals' },
  getApproval: { method: 'GET', path: '/v1/approvals/{id}' },
  approve: { method: 'POST', path: '/v1/approvals/{id}/approve' },
  reject: { method: 'POST', path: '/v1/approvals/{id}/reject' },
  getHalt: { method: 'GET', path: '/v1/halt' },
  engageHalt: { method: 'POST', path: '/v1/halt' },
  requestHaltRelease: { method: 'POST', path: '/v1/halt/release' },
  listAlerts: { method: 'GET', path: '/v1/alerts' },
  ackAlert: { method: 'POST', path: '/v1/alerts/{id}/ack' },
  listIncidents: { method: 'GET', path: '/v1/incidents' },
  getIncident: { method: 'GET', path: '/v1/incidents/{id}' },
  listIncidentTickets: { method: 'GET', path: '/v1/incidents/{id}/tickets' },
  closeIncident: { method: 'POST', path: '/v1/incidents/{id}/close' },
  getTimeline: { method: 'GET', path: '/v1/timeline/{correlationId}' },
  listAudit: { method: 'GET', path: '/v1/audit' },
  verifyAudit: { method: 'GET', path: '/v1/audit/verify' },
  createToken: { method: 'POST', path: '/v1/tokens' },
  listTokens: { method: 'GET', path: '/v1/tokens' },
  revokeToken: { method: 'POST', path: '/v1/tokens/{id}/revoke' },
  getSession: { method: 'GET', path: '/v1/session' },
} as const satisfies Record<string, OperationRoute>

export interface OperationRoute {
  method: 'GET' | 'POST'
  /** With `{name}` placeholders, as /openapi.json writes it. */
  path: string
}

export type OperationId = keyof typeof OPERATION_ROUTES
