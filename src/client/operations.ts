import { z } from 'zod'
import type { OperationId } from './operation-routes.js'
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

/** One operation of the API: the schemas of what goes in and comes back (its route: operation-routes.ts). */
export interface OperationSpec {
  params?: z.ZodType
  query?: z.ZodType
  body?: z.ZodType
  /** The JSON body of a success, whatever its 2xx status. */
  response: z.ZodType
}

/**
 * The JSON operations of the API by operationId, over the same schemas the server's routes
 * declare (src/http/schemas): the client's input and output types are inferred from them. Every
 * operation of operation-routes.ts has an entry here (the `satisfies` below checks it).
 */
export const OPERATIONS = {
  listKeys: { query: KeysQuery, response: z.array(Key) },
  getKey: { params: KeyParams, response: Key },
  startRotation: {
    params: KeyParams,
    body: RotationBody,
    response: Run,
  },
  requestForwardCorrection: {
    params: KeyParams,
    body: ForwardCorrectionBody,
    response: Run,
  },
  getJwks: { params: KeyParams, response: Jwks },
  getMaterial: {
    params: MaterialParams,
    response: Jwk,
  },
  verifyKey: { params: KeyParams, response: KeyVerification },
  verifyAll: { response: AllVerification },
  listRuns: { query: RunsQuery, response: z.array(Run) },
  getRun: { params: RunParams, query: RunQuery, response: Run },
  listRunEvents: {
    params: RunParams,
    query: RunEventsQuery,
    response: RunEventsPage,
  },
  verifyRun: { params: RunParams, response: RunVerification },
  retryRun: { params: RunParams, response: Run },
  cancelRun: { params: RunParams, response: Run },
  getSchedule: { response: Schedule },
  getConfig: { response: ConfigStatus },
  listConfigVersions: {
    query: VersionsQuery,
    response: z.array(ConfigVersion),
  },
  getConfigVersion: {
    params: ConfigVersionParams,
    response: ConfigVersion,
  },
  listConfigProposals: {
    query: ProposalsQuery,
    response: z.array(ConfigProposal),
  },
  getConfigProposal: {
    params: IdParams,
    response: ConfigProposal,
  },
  proposeConfig: {
    body: ProposeBody,
    response: ConfigProposal,
  },
  approveConfigProposal: {
    params: IdParams,
    body: ApproveProposalBody,
    response: ConfigProposal,
  },
  applyConfigProposal: {
    params: IdParams,
    response: ConfigProposal,
  },
  listApprovals: { query: ApprovalsQuery, response: z.array(Approval) },
  getApproval: { params: IdParams, response: Approval },
  approve: {
    params: IdParams,
    body: ApproveBody,
    response: Approval,
  },
  reject: {
    params: IdParams,
    body: RejectBody,
    response: Approval,
  },
  getHalt: { response: Halt },
  engageHalt: { body: EngageHaltBody, response: Halt },
  requestHaltRelease: { body: ReleaseHaltBody, response: Approval },
  listAlerts: { query: AlertsQuery, response: z.array(Alert) },
  ackAlert: { params: IdParams, response: Alert },
  listIncidents: { query: IncidentsQuery, response: z.array(Incident) },
  getIncident: { params: IdParams, response: Incident },
  listIncidentTickets: {
    params: IdParams,
    response: z.array(IncidentTicket),
  },
  closeIncident: {
    params: IdParams,
    body: CloseIncidentBody,
    response: Incident,
  },
  getTimeline: {
    params: TimelineParams,
    response: Timeline,
  },
  listAudit: { query: AuditQuery, response: z.array(AuditEvent) },
  verifyAudit: { response: AuditChainReport },
  createToken: { body: CreateTokenBody, response: CreatedToken },
  listTokens: { query: TokensQuery, response: z.array(TokenInfo) },
  revokeToken: { params: IdParams, response: TokenInfo },
  getSession: { response: Session },
} as const satisfies Record<OperationId, OperationSpec>
