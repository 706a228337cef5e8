import { describe, expect, it } from 'vitest'
import { isKeyrotorError, type ErrorCode } from '../errors.js'
import {
  approvalDigest,
  assertRequiredRoles,
  checkApprove,
  checkReject,
  missingRoles,
  type ApprovalFacts,
} from './approval-rules.js'

const NOW = new Date('2026-03-01T10:00:00.000Z')
const pending: ApprovalFacts = {
  id: 'apr_1',
  state: 'pending',
  requestedBy: 'alice',
  requiredRoles: ['security', 'admin'],
  approvals: [],
  rejections: [],
  expiresAt: '2026-03-01T11:00:00.000Z',
  createdAt: '2026-03-01T09:59:00.000Z',
}
const person = (
  user: string,
  role: 'security' | 'admin' | 'operator',
  createdAt = '2026-02-01T00:00:00.000Z',
) => ({
  user,
  role,
  id: `tok_${user}`,
  createdAt,
})

function codeOf(fn: () => unknown): ErrorCode | undefined {
  try {
    fn()
  } catch (error) {
    if (isKeyrotorError(error)) return error.code
    throw error
  }
  return undefined
}

describe('approval rules', () => {
  it('counts required roles as a multiset, one approval per listed role', () => {
    expect(missingRoles(['security', 'security', 'admin'], [{ role: 'security' }])).toEqual([
      'security',
      'admin',
    ])
    expect(missingRoles(['security'], [{ role: 'admin' }])).toEqual(['security'])
  })

  it('refuses the requester with SELF_APPROVAL even when their role is missing', () => {
    expect(codeOf(() => checkApprove(pending, person('alice', 'admin'), NOW))).toBe('SELF_APPROVAL')
  })

  it('knows the requester under another case or width of their name', () => {
    expect(codeOf(() => checkApprove(pending, person('ALICE', 'admin'), NOW))).toBe('SELF_APPROVAL')
    expect(codeOf(() => checkApprove(pending, person('ａｌｉｃｅ', 'admin'), NOW))).toBe('SELF_APPROVAL')
    expect(codeOf(() => checkReject(pending, person('Alice', 'operator'), NOW))).toBeUndefined()
  })

  it('refuses an approval from a token created after the request, and counts an older one', () => {
    const late = person('sam', 'security', '2026-03-01T09:59:30.000Z')
    expect(codeOf(() => checkApprove(pending, late, NOW))).toBe('FORBIDDEN')
    expect(checkApprove(pending, person('sam', 'security'), NOW)).toBe(false)
  })

  it('counts one person once, whatever the case of their name', () => {
    const decided = {
      ...pending,
      approvals: [{ by: 'Sam', role: 'security' as const, at: NOW.toISOString() }],
    }
    expect(codeOf(() => checkApprove(decided, person('sam', 'admin'), NOW))).toBe('CONFLICT')
  })

  it('refuses a role that is not missing with FORBIDDEN', () => {
    const one = { ...pending, approvals: [{ by: 'sam', role: 'security' as const, at: NOW.toISOString() }] }
    expect(codeOf(() => checkApprove(one, person('sue', 'security'), NOW))).toBe('FORBIDDEN')
    expect(codeOf(() => checkApprove(pending, person('otto', 'operator'), NOW))).toBe('FORBIDDEN')
  })

  it('refuses a second decision by the same person with CONFLICT', () => {
    const one = { ...pending, approvals: [{ by: 'sam', role: 'security' as const, at: NOW.toISOString() }] }
    expect(codeOf(() => checkApprove(one, person('sam', 'admin'), NOW))).toBe('CONFLICT')
  })

  it('says the approval covering the last missing role completes the request', () => {
    expect(checkApprove(pending, person('sam', 'security'), NOW)).toBe(false)
    const one = { ...pending, approvals: [{ by: 'sam', role: 'security' as const, at: NOW.toISOString() }] }
    expect(checkApprove(one, person('bob', 'admin'), NOW)).toBe(true)
  })

  it('refuses decisions on an overdue or decided request with CONFLICT', () => {
    const later = new Date('2026-03-01T11:00:00.001Z')
    expect(codeOf(() => checkApprove(pending, person('sam', 'security'), later))).toBe('CONFLICT')
    expect(codeOf(() => checkReject({ ...pending, state: 'approved' }, person('sam', 'security'), NOW))).toBe(
      'CONFLICT',
    )
  })

  it('lets the requester withdraw, and only required roles veto', () => {
    expect(checkReject(pending, person('alice', 'admin'), NOW)).toBe(true)
    expect(checkReject(pending, person('sam', 'security'), NOW)).toBe(false)
    expect(codeOf(() => checkReject(pending, person('otto', 'operator'), NOW))).toBe('FORBIDDEN')
  })

  it('refuses required roles that cannot decide approvals', () => {
    expect(codeOf(() => assertRequiredRoles(['operator']))).toBe('BAD_REQUEST')
    expect(codeOf(() => assertRequiredRoles([]))).toBe('BAD_REQUEST')
    expect(codeOf(() => assertRequiredRoles(['security', 'admin']))).toBeUndefined()
  })

  it('gives the same digest whatever the key order, and another for another payload', () => {
    const a = approvalDigest('halt.release', 'halt', { since: 't', by: 'x' })
    expect(a).toMatch(/^[0-9a-f]{64}$/)
    expect(approvalDigest('halt.release', 'halt', { by: 'x', since: 't' })).toBe(a)
    expect(approvalDigest('halt.release', 'halt', { by: 'y', since: 't' })).not.toBe(a)
    expect(approvalDigest('config.apply', 'halt', { by: 'x', since: 't' })).not.toBe(a)
  })
})
