import type { Role } from './roles.js'

/** What an approval can authorize; each action has one executor (see governance/approvals.ts). */
export const APPROVAL_ACTIONS = [
  'halt.release',
  'forward-correct',
  'emergency-rotate',
  'config.apply',
  // a rotation of a key whose policy says requireApproval
  'rotate',
] as const
export type ApprovalAction = (typeof APPROVAL_ACTIONS)[number]

export const APPROVAL_STATES = ['pending', 'approved', 'rejected', 'expired'] as const
export type ApprovalState = (typeof APPROVAL_STATES)[number]

/**
 * One required approval: a role, or alternatives written `admin|security`, any one of which
 * covers it (a config change needs a second admin or a security person, not both).
 */
export type RoleRequirement = Role | `${Role}|${Role}`

/** The roles that can cover `requirement`. */
export function rolesOf(requirement: RoleRequirement): Role[] {
  return requirement.split('|') as Role[]
}

export function isApprovalAction(value: unknown): value is ApprovalAction {
  return typeof value === 'string' && (APPROVAL_ACTIONS as readonly string[]).includes(value)
}

/** What a request for approval names (governance/approvals.ts records and decides it). */
export interface ApprovalRequest {
  action: ApprovalAction
  /** What the action acts on: a key id, a run id, `halt`. */
  subject: string
  /** The action's exact parameters (never a secret); hashed into the approval's digest. */
  payload: Record<string, unknown>
  /** Each role (or one of its `a|b` alternatives) must approve, each by a different person who is not the requester. */
  requiredRoles: RoleRequirement[]
  requestedBy: { user: string; role: Role }
  reason: string
  ttlMs: number
  runId?: string | undefined
  correlationId: string
}
