import { z } from 'zod'
import { APPROVAL_ACTIONS, APPROVAL_STATES } from '../../domain/approvals.js'
import { PROPOSAL_STATES } from '../../config-changes/proposals.js'
import { ROLES } from '../../domain/roles.js'
import { nullableString, nullableTimestamp, Reason, timestamp } from './common.js'

const Role = z.enum(ROLES)

/** A required approval: a role, or alternatives such as `admin|security`, any one of which covers it. */
const ROLE_REQUIREMENTS = [
  ...ROLES,
  ...ROLES.flatMap((a) => ROLES.filter((b) => b !== a).map((b) => `${a}|${b}`)),
]
export const RoleRequirement = z
  .enum(ROLE_REQUIREMENTS as [string, ...string[]])
  .describe('a role, or alternatives written `admin|security`, any one of which covers it')

const Grant = z.object({ by: z.string(), role: Role, at: timestamp })

export const Approval = z
  .object({
    id: z.string(),
    action: z.enum(APPROVAL_ACTIONS),
    subject: z.string(),
    state: z.enum(APPROVAL_STATES),
    requestedBy: z.string(),
    requiredRoles: z.array(RoleRequirement),
    approvals: z.array(Grant),
    rejections: z.array(Grant.extend({ reason: nullableString })),
    expiresAt: timestamp,
    payload: z.record(z.string(), z.unknown()).describe('what exactly is approved'),
    digest: z.string().describe('sha256 of action, subject and payload, checked again at execution'),
    reason: z.string(),
    runId: nullableString,
    correlationId: z.string(),
    createdAt: timestamp,
    decidedAt: nullableTimestamp,
  })
  .meta({ id: 'Approval' })

export const ApprovalsQuery = z.object({ state: z.enum(APPROVAL_STATES).optional() })
export const ApproveBody = z.strictObject({ reason: Reason.optional() }).nullish()
export const RejectBody = z.strictObject({ reason: Reason })

/** The global halt as CONTRACT.md shows it. */
export const Halt = z
  .object({
    engaged: z.boolean(),
    reason: nullableString,
    by: nullableString,
    since: nullableTimestamp,
  })
  .meta({ id: 'Halt' })

export const EngageHaltBody = z.strictObject({ reason: Reason })
export const ReleaseHaltBody = z.strictObject({ reason: Reason.optional() }).nullish()

// 12h, 30d, 1h30m: the units of parseDuration, and at least a minute (checked by the token store)
const DURATION = /^(\d{1,6}(ms|s|m|h|d|w))+$/

export const TokenInfo = z
  .object({
    id: z.string(),
    user: z.string(),
    role: Role,
    key: nullableString.describe('the key a consumer token is bound to'),
    createdAt: timestamp,
    createdBy: z.string(),
    expiresAt: nullableTimestamp,
    revokedAt: nullableTimestamp,
    lastUsedAt: nullableTimestamp,
  })
  .meta({ id: 'TokenInfo' })

export const CreateTokenBody = z.strictObject({
  user: z.string().min(1).max(128),
  role: Role,
  key: z.string().min(1).max(200).optional().describe('the key a consumer is bound to'),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
  expiresIn: z
    .string()
    .min(1)
    .max(32)
    .regex(DURATION)
    .optional()
    .describe('a lifetime such as 12h or 30d, instead of expiresAt'),
})

export const CreatedToken = z.object({
  token: z.string().describe('the secret: shown once, never again'),
  id: z.string(),
  expiresAt: nullableTimestamp,
})

/** Who the token belongs to and what it may do: the console shows only those actions. */
export const Session = z.object({ user: z.string(), role: Role, actions: z.array(z.string()) })

const TEXT = z.string().min(1).max(4000)

export const ConfigProposal = z
  .object({
    id: z.string(),
    state: z.enum(PROPOSAL_STATES),
    summary: z.string(),
    rollbackPlan: z.string(),
    hash: z.string(),
    baseVersion: z.number().int(),
    proposedBy: z.string(),
    createdAt: timestamp,
    approvalId: z.string(),
    approvedBy: nullableString,
    approvedAt: nullableTimestamp,
    appliedBy: nullableString,
    appliedAt: nullableTimestamp,
    appliedVersion: z.number().int().nullable(),
    decidedAt: nullableTimestamp,
    diff: z.string().optional(),
    yaml: z.string().optional(),
  })
  .meta({ id: 'ConfigProposal' })

export const ConfigVersion = z
  .object({
    version: z.number().int(),
    hash: z.string(),
    active: z.boolean(),
    source: z.string(),
    proposalId: nullableString,
    summary: nullableString,
    rollbackPlan: nullableString,
    proposedBy: nullableString,
    proposedAt: nullableTimestamp,
    approvedBy: nullableString,
    approvedAt: nullableTimestamp,
    appliedBy: z.string(),
    appliedAt: timestamp,
    yaml: z.string().optional(),
  })
  .meta({ id: 'ConfigVersion' })

export const ConfigStatus = z.object({
  activeVersion: z.number().int().nullable(),
  hash: nullableString,
  createdAt: nullableTimestamp,
  createdBy: nullableString,
  file: z.object({
    status: z
      .enum(['applied', 'unchanged', 'differs', 'none'])
      .describe('how the --config file compares with the active version'),
    fileHash: z.string().optional(),
    note: z.string().optional(),
  }),
})

export const ConfigVersionParams = z.object({ version: z.coerce.number().int().min(1).max(2_147_483_647) })
export const ProposalsQuery = z.object({ state: z.enum(PROPOSAL_STATES).optional() })
export const ProposeBody = z.strictObject({
  yaml: z.string().max(1_000_000).optional(),
  fromVersion: z.number().int().min(1).max(2_147_483_647).optional(),
  summary: TEXT,
  rollbackPlan: TEXT,
})
export const ApproveProposalBody = z.strictObject({ reason: TEXT.optional() }).nullish()
