import type { z } from 'zod'
import type {
  Approval,
  ConfigProposal,
  ConfigVersion,
  Halt,
  Session,
  TokenInfo,
} from '../http/schemas/governance.js'
import type { Dependent, Key } from '../http/schemas/keys.js'
import type {
  Alert,
  AuditChainReport,
  AuditEvent,
  Incident,
  Schedule,
  ScheduleEntry,
  Timeline,
} from '../http/schemas/observability.js'
import type {
  AllVerification,
  KeyVerification,
  Run,
  RunEvent,
  RunEventsPage,
  RunVerification,
} from '../http/schemas/runs.js'
import type { Problem } from '../http/schemas/common.js'

/** The shapes the API answers with, inferred from the schemas the server declares them with. */
export type RunView = z.output<typeof Run>
export type RunEventView = z.output<typeof RunEvent>
export type RunEventsPageView = z.output<typeof RunEventsPage>
export type RunVerificationView = z.output<typeof RunVerification>
export type KeyVerificationView = z.output<typeof KeyVerification>
export type AllVerificationView = z.output<typeof AllVerification>
export type KeyView = z.output<typeof Key>
export type DependentView = z.output<typeof Dependent>
export type HaltView = z.output<typeof Halt>
export type AlertView = z.output<typeof Alert>
export type ApprovalView = z.output<typeof Approval>
export type IncidentView = z.output<typeof Incident>
export type TimelineView = z.output<typeof Timeline>
export type AuditEventView = z.output<typeof AuditEvent>
export type AuditChainReportView = z.output<typeof AuditChainReport>
export type ScheduleView = z.output<typeof Schedule>
export type ScheduleEntryView = z.output<typeof ScheduleEntry>
export type ConfigProposalView = z.output<typeof ConfigProposal>
export type ConfigVersionView = z.output<typeof ConfigVersion>
export type TokenInfoView = z.output<typeof TokenInfo>
export type SessionInfo = z.output<typeof Session>
export type ProblemView = z.output<typeof Problem>
