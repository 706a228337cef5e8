import { createHash } from 'node:crypto'
import { canonicalJson } from '../config/config-hash.js'
import { KeyrotorError } from '../errors.js'
import { sameIdentity } from '../domain/identity.js'
import { can } from './permissions.js'
import type { Role } from '../domain/roles.js'
import { isApprovalAction, rolesOf, type ApprovalState, type RoleRequirement } from '../domain/approvals.js'

function covers(requirement: RoleRequirement, role: Role): boolean {
  return rolesOf(requirement).includes(role)
}

/** One person's decision as an approval shows it. */
export interface ApprovalGrant {
  by: string
  role: Role
  at: string
}

/** The facts the four-eyes rules decide on. */
export interface ApprovalFacts {
  id: string
  state: ApprovalState
  requestedBy: string
  /** When the request was made: only tokens older than this may approve it. */
  createdAt: string
  requiredRoles: RoleRequirement[]
  approvals: ApprovalGrant[]
  rejections: (ApprovalGrant & { reason: string | null })[]
  expiresAt: string
}

/** Whoever decides: a person with a token. */
export interface Decider {
  user: string
  role: Role
  /** The token's id, for the audit record. */
  id: string
  /** When the decider's token was created (ISO 8601): only tokens older than a request count for it. */
  createdAt: string
}

/** sha256 (hex) of the canonical JSON of what is approved: approving one thing never executes another. */
export function approvalDigest(action: string, subject: string, payload: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson({ action, subject, payload })).digest('hex')
}

/**
 * The required roles not yet covered, as a multiset: ['security', 'security'] needs two security
 * approvals, each by a different person (the store keeps one decision per person). An approval
 * covers the narrowest requirement it can, so `security` is spent on 'security' before
 * 'admin|security' and leaves the alternative open for an admin.
 */
export function missingRoles(
  required: readonly RoleRequirement[],
  approvals: readonly { role: Role }[],
): RoleRequirement[] {
  const missing = [...required]
  for (const { role } of approvals) {
    let index = -1
    missing.forEach((requirement, i) => {
      const width = rolesOf(requirement).length
      if (
        covers(requirement, role) &&
        (index < 0 || width < rolesOf(missing[index] as RoleRequirement).length)
      )
        index = i
    })
    if (index >= 0) missing.splice(index, 1)
  }
  return missing
}

/** BAD_REQUEST unless every required role can decide approvals (else it could never complete). */
export function assertRequiredRoles(roles: readonly RoleRequirement[]): void {
  if (roles.length === 0) throw new KeyrotorError('BAD_REQUEST', 'an approval needs at least one role')
  const unable = roles.flatMap(rolesOf).filter((role) => !can(role, 'approvals.decide'))
  if (unable.length > 0) {
    throw new KeyrotorError('BAD_REQUEST', `role(s) ${unable.join(', ')} cannot decide approvals`)
  }
}

/** BAD_REQUEST unless a request names a known action, a subject, a reason, roles and a time to live. */
export function assertValidRequest(input: {
  action: unknown
  subject: string
  reason: string
  ttlMs: number
  requiredRoles: readonly RoleRequirement[]
}): void {
  if (!isApprovalAction(input.action)) {
    throw new KeyrotorError('BAD_REQUEST', `unknown approval action ${String(input.action)}`)
  }
  if (input.reason.trim() === '') throw new KeyrotorError('BAD_REQUEST', 'a request needs a reason')
  if (input.subject.trim() === '') throw new KeyrotorError('BAD_REQUEST', 'a request needs a subject')
  if (!Number.isFinite(input.ttlMs) || input.ttlMs <= 0) {
    throw new KeyrotorError('BAD_REQUEST', 'an approval needs a positive time to live')
  }
  assertRequiredRoles(input.requiredRoles)
}

/** Whether `approval` waits past its expiry: then nobody may decide it any more. */
export function isOverdue(approval: Pick<ApprovalFacts, 'expiresAt'>, now: Date): boolean {
  return now.getTime() > Date.parse(approval.expiresAt)
}

function assertOpen(approval: ApprovalFacts, now: Date): void {
  if (approval.state === 'pending' && isOverdue(approval, now)) {
    throw new KeyrotorError('CONFLICT', `approval ${approval.id} is expired`)
  }
  if (approval.state !== 'pending') {
    throw new KeyrotorError('CONFLICT', `approval ${approval.id} is ${approval.state}`)
  }
}

function assertNotDecided(approval: ApprovalFacts, decider: Decider): void {
  if ([...approval.approvals, ...approval.rejections].some((d) => sameIdentity(d.by, decider.user))) {
    throw new KeyrotorError('CONFLICT', `${decider.user} already decided approval ${approval.id}`)
  }
}

/**
 * Throws unless `decider` may approve: the approval is open, they did not request it, have not
 * decided it yet, and hold a role still missing. Returns whether their approval completes it.
 */
export function checkApprove(approval: ApprovalFacts, decider: Decider, now: Date): boolean {
  assertOpen(approval, now)
  if (sameIdentity(decider.user, approval.requestedBy)) {
    throw new KeyrotorError('SELF_APPROVAL', `${decider.user} requested approval ${approval.id}`)
  }
  if (Date.parse(decider.createdAt) > Date.parse(approval.createdAt)) {
    // a token made after the request could be one its requester made for themself: it must not count
    throw new KeyrotorError(
      'FORBIDDEN',
      `${decider.user}'s token was created after approval ${approval.id} was requested; approve with a token that existed before it`,
      { details: { reason: 'token_after_request' } },
    )
  }
  assertNotDecided(approval, decider)
  const missing = missingRoles(approval.requiredRoles, approval.approvals)
  if (!missing.some((requirement) => covers(requirement, decider.role))) {
    throw new KeyrotorError(
      'FORBIDDEN',
      `approval ${approval.id} needs ${missing.join(', ')}; ${decider.user} is ${decider.role}`,
    )
  }
  return missing.length === 1
}

/**
 * Throws unless `decider` may reject: the approval is open and they are either the requester
 * (withdrawing their own request) or an undecided holder of one of the required roles (a veto).
 * Returns whether this is the requester's withdrawal.
 */
export function checkReject(approval: ApprovalFacts, decider: Decider, now: Date): boolean {
  assertOpen(approval, now)
  if (sameIdentity(decider.user, approval.requestedBy)) return true
  assertNotDecided(approval, decider)
  if (!approval.requiredRoles.some((requirement) => covers(requirement, decider.role))) {
    throw new KeyrotorError(
      'FORBIDDEN',
      `approval ${approval.id} is decided by ${approval.requiredRoles.join(', ')}; ${decider.user} is ${decider.role}`,
    )
  }
  return false
}
