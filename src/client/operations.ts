import { z } from 'zod'
import { IdParams } from '../http/schemas/common.js'
import {
  Approval,
  ApprovalsQuery,
  ApproveBody,
  ApproveProposalBody,
  ConfigProposal,
  ConfigStatus,
  ConfigVersion,
  ConfigVersionParams,
  CreatedToken,
  CreateTokenBody,
  EngageHaltBody,
  Halt,
  ProposalsQuery,
  ProposeBody,
  RejectBody,
  ReleaseHaltBody,
  Session,
  TokenInfo,
  TokensQuery,
  VersionsQuery,
} from '../http/schemas/governance.js'
import { Jwk, Jwks, Key, KeyParams, KeysQuery, MaterialParams } from '../http/schemas/keys.js'
import {
  Alert,
  AlertsQuery,
  AuditChainReport,
  AuditEvent,
  AuditQuery,
  CloseIncidentBody,
  Incident,
  IncidentsQuery,
  IncidentTicket,
  Schedule,
  Timeline,
  TimelineParams,
} from '../http/schemas/observability.js'
import {
  AllVerification,
  ForwardCorrectionBody,
  KeyVerification,
  RotationBody,
  Run,
  RunEventsPage,
  RunEventsQuery,
  RunParams,
  RunQuery,
  RunsQuery,
  RunVerification,
} from '../http/schemas/runs.js'

/** One operation of the API: how to call it and the schemas of what goes in and comes back. */
export interface OperationSpec {
  method: 'GET' | 'POST'
  /** With `{name}` placeholders, as /openapi.json writes it. */
  path: string
  params?: z.ZodType
  query?: z.ZodType
  body?: z.ZodType
  /** The JSON body of a success, whatever its 2xx status. */
  response: z.ZodType
}

/**
 * The JSON operations of the API by operationId, over the same schemas the server's routes
 * declare (src/http/schemas). test/openapi-document.test.ts checks each method and path against
 * the served /openapi.json, so the client cannot drift from the server.
 */
export const OPERATIONS = {
  listKeys: { method: 'GET', path: '/v1/keys', query: KeysQuery, response: z.array(Key) },
  getKey: { method: 'GET', path: '/v1/keys/{key}', params: KeyParams, response: Key },
  startRotation: {
    method: 'POST',
    path: '/v1/keys/{key}/rotations',
    params: KeyParams,
    body: RotationBody,
    response: Run,
  },
  requestForwardCorrection: {
    method: 'POST',
    path: '/v1/keys/{key}/forward-corrections',
    params: KeyParams,
    body: ForwardCorrectionBody,
    response: Run,
  },
  getJwks: { method: 'GET', path: '/v1/keys/{key}/jwks.json', params: KeyParams, response: Jwks },
  getMaterial: {
    method: 'GET',
    path: '/v1/keys/{key}/versions/{version}/material',
    params: MaterialParams,
    response: Jwk,
  },
  verifyKey: { method: 'POST', path: '/v1/keys/{key}/verify', params: KeyParams, response: KeyVerification },
  verifyAll: { method: 'POST', path: '/v1/verify', response: AllVerification },
  listRuns: { method: 'GET', path: '/v1/runs', query: RunsQuery, response: z.array(Run) },
  getRun: { method: 'GET', path: '/v1/runs/{id}', params: RunParams, query: RunQuery, response: Run },
  listRunEvents: {
    method: 'GET',
    path: '/v1/runs/{id}/events',
    params: RunParams,
    query: RunEventsQuery,
    response: RunEventsPage,
  },
  verifyRun: { method: 'POST', path: '/v1/runs/{id}/verify', params: RunParams, response: RunVerification },
  retryRun: { method: 'POST', path: '/v1/runs/{id}/retry', params: RunParams, response: Run },
  cancelRun: { method: 'POST', path: '/v1/runs/{id}/cancel', params: RunParams, response: Run },
  getSchedule: { method: 'GET', path: '/v1/schedule', response: Schedule },
  getConfig: { method: 'GET', path: '/v1/config', response: ConfigStatus },
  listConfigVersions: {
    method: 'GET',
    path: '/v1/config/versions',
    query: VersionsQuery,
    response: z.array(ConfigVersion),
  },
  getConfigVersion: {
    method: 'GET',
    path: '/v1/config/versions/{version}',
    params: ConfigVersionParams,
    response: ConfigVersion,
  },
  listConfigProposals: {
    method: 'GET',
    path: '/v1/config/proposals',
    query: ProposalsQuery,
    response: z.array(ConfigProposal),
  },
  getConfigProposal: {
    method: 'GET',
    path: '/v1/config/proposals/{id}',
    params: IdParams,
    response: ConfigProposal,
  },
  proposeConfig: {
    method: 'POST',
    path: '/v1/config/proposals',
    body: ProposeBody,
    response: ConfigProposal,
  },
  approveConfigProposal: {
    method: 'POST',
    path: '/v1/config/proposals/{id}/approve',
    params: IdParams,
    body: ApproveProposalBody,
    response: ConfigProposal,
  },
  applyConfigProposal: {
    method: 'POST',
    path: '/v1/config/proposals/{id}/apply',
    params: IdParams,
    response: ConfigProposal,
  },
  listApprovals: { method: 'GET', path: '/v1/approvals', query: ApprovalsQuery, response: z.array(Approval) },
  getApproval: { method: 'GET', path: '/v1/approvals/{id}', params: IdParams, response: Approval },
  approve: {
    method: 'POST',
    path: '/v1/approvals/{id}/approve',
    params: IdParams,
    body: ApproveBody,
    response: Approval,
  },
  reject: {
    method: 'POST',
    path: '/v1/approvals/{id}/reject',
    params: IdParams,
    body: RejectBody,
    response: Approval,
  },
  getHalt: { method: 'GET', path: '/v1/halt', response: Halt },
  engageHalt: { method: 'POST', path: '/v1/halt', body: EngageHaltBody, response: Halt },
  requestHaltRelease: { method: 'POST', path: '/v1/halt/release', body: ReleaseHaltBody, response: Approval },
  listAlerts: { method: 'GET', path: '/v1/alerts', query: AlertsQuery, response: z.array(Alert) },
  ackAlert: { method: 'POST', path: '/v1/alerts/{id}/ack', params: IdParams, response: Alert },
  listIncidents: { method: 'GET', path: '/v1/incidents', query: IncidentsQuery, response: z.array(Incident) },
  getIncident: { method: 'GET', path: '/v1/incidents/{id}', params: IdParams, response: Incident },
  listIncidentTickets: {
    method: 'GET',
    path: '/v1/incidents/{id}/tickets',
    params: IdParams,
    response: z.array(IncidentTicket),
  },
  closeIncident: {
    method: 'POST',
    path: '/v1/incidents/{id}/close',
    params: IdParams,
    body: CloseIncidentBody,
    response: Incident,
  },
  getTimeline: {
    method: 'GET',
    path: '/v1/timeline/{correlationId}',
    params: TimelineParams,
    response: Timeline,
  },
  listAudit: { method: 'GET', path: '/v1/audit', query: AuditQuery, response: z.array(AuditEvent) },
  verifyAudit: { method: 'GET', path: '/v1/audit/verify', response: AuditChainReport },
  createToken: { method: 'POST', path: '/v1/tokens', body: CreateTokenBody, response: CreatedToken },
  listTokens: { method: 'GET', path: '/v1/tokens', query: TokensQuery, response: z.array(TokenInfo) },
  revokeToken: { method: 'POST', path: '/v1/tokens/{id}/revoke', params: IdParams, response: TokenInfo },
  getSession: { method: 'GET', path: '/v1/session', response: Session },
} as const satisfies Record<string, OperationSpec>

export type OperationId = keyof typeof OPERATIONS
