import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuditLog } from '../src/audit/audit-log.js'
import { isKeyrotorError } from '../src/errors.js'
import { missingRoles } from '../src/governance/approval-rules.js'
import { createApprovalService, type ApprovalView, type Decider } from '../src/governance/approvals.js'
import type { Role } from '../src/domain/roles.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

const TTL_MS = 60_000
// the deciders' tokens predate every request of these tests
const TOKENS_MADE = '2026-01-01T00:00:00.000Z'
const PEOPLE: Decider[] = [
  { user: 'req', role: 'admin', id: 'tok_req', createdAt: TOKENS_MADE },
  { user: 'sam', role: 'security', id: 'tok_sam', createdAt: TOKENS_MADE },
  { user: 'sue', role: 'security', id: 'tok_sue', createdAt: TOKENS_MADE },
  { user: 'bob', role: 'admin', id: 'tok_bob', createdAt: TOKENS_MADE },
  { user: 'ann', role: 'admin', id: 'tok_ann', createdAt: TOKENS_MADE },
  { user: 'otto', role: 'operator', id: 'tok_otto', createdAt: TOKENS_MADE },
]
const REQUIREMENTS: Role[][] = [
  ['security', 'admin'],
  ['security'],
  ['security', 'security'],
  ['admin', 'security', 'security'],
]

type Step = { kind: 'approve' | 'reject' | 'expire' | 'failNext'; who: number }
const step = fc.record({
  kind: fc.constantFrom<Step['kind']>('approve', 'approve', 'approve', 'reject', 'expire', 'failNext'),
  who: fc.integer({ min: 0, max: PEOPLE.length - 1 }),
})

describe.each(DIALECTS)('approvals service on %s', (dialect) => {
  let store: TestStore
  let clock = new Date('2026-03-01T10:00:00.000Z')
  const approvals = () => createApprovalService({ db: store.db, audit: createAuditLog(), now: () => clock })

  beforeAll(async () => {
    store = await createTestStore(dialect)
  })
  afterAll(async () => store?.dispose())

  it('executes once, only with distinct non-requester approvers covering every required role', async () => {
    const service = approvals()
    let executions: ApprovalView[] = []
    let failNext = false
    let executedRuns = 0
    service.register('config.apply', async (approval) => {
      if (failNext) {
        failNext = false
        throw new Error('executor refused')
      }
      executions.push(approval)
    })
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...REQUIREMENTS),
        fc.array(step, { maxLength: 12 }),
        async (requiredRoles, steps) => {
          executions = []
          failNext = false
          const requested = await service.request(store.db, {
            action: 'config.apply',
            subject: 'config',
            payload: { version: 7 },
            requiredRoles,
            requestedBy: { user: 'req', role: 'admin' },
            reason: 'property',
            ttlMs: TTL_MS,
            correlationId: 'corr-property',
          })
          for (const { kind, who } of steps) {
            const person = PEOPLE[who] as Decider
            if (kind === 'expire') clock = new Date(clock.getTime() + TTL_MS + 1)
            if (kind === 'failNext') failNext = true
            if (kind !== 'approve' && kind !== 'reject') continue
            const before = await service.get(requested.id)
            const failing = failNext
            try {
              if (kind === 'approve') await service.approve(requested.id, person)
              else await service.reject(requested.id, person, 'no')
            } catch (error) {
              if (failing && error instanceof Error && error.message === 'executor refused') {
                // the refused execution left no trace of the completing approval
                expect(await service.get(requested.id)).toMatchObject({
                  state: 'pending',
                  approvals: before.approvals,
                })
                continue
              }
              if (!isKeyrotorError(error)) throw error
            }
          }
          const final = await service.get(requested.id)
          executedRuns += executions.length
          expect(executions.length).toBeLessThanOrEqual(1)
          expect(final.state === 'approved').toBe(executions.length === 1)
          for (const executed of executions) {
            const users = executed.approvals.map((a) => a.by)
            expect(new Set(users).size).toBe(requiredRoles.length)
            expect(users).not.toContain('req')
            expect(missingRoles(requiredRoles, executed.approvals)).toEqual([])
          }
        },
      ),
      { numRuns: 200 },
    )
    // the property is not vacuous: some of the random sequences did complete (about 5% of 200
    // runs do; the bound is low so that an unlucky seed cannot fail a correct service)
    expect(executedRuns).toBeGreaterThanOrEqual(3)
  }, 180_000)

  it('runs the executor once when the last two approvers decide at the same moment', async () => {
    const service = approvals()
    let executed = 0
    let prechecked = 0
    service.register('forward-correct', async () => void executed++, {
      precheck: async () => void prechecked++,
    })
    for (let i = 0; i < 5; i++) {
      const { id } = await service.request(store.db, {
        action: 'forward-correct',
        subject: `key-${i}`,
        payload: {},
        requiredRoles: ['security', 'admin'],
        requestedBy: { user: 'req', role: 'admin' },
        reason: 'race',
        ttlMs: TTL_MS,
        correlationId: `corr-race-${i}`,
      })
      await Promise.all([
        service.approve(id, PEOPLE[1] as Decider),
        service.approve(id, PEOPLE[3] as Decider),
      ])
      expect(await service.get(id)).toMatchObject({ state: 'approved' })
    }
    expect(executed).toBe(5)
    // the completing approval was checked every time, whichever of the two it was
    expect(prechecked).toBeGreaterThanOrEqual(5)
  })

  it('marks an overdue request expired on read and refuses to approve it with CONFLICT', async () => {
    const service = approvals()
    service.register('emergency-rotate', async () => undefined)
    const { id } = await service.request(store.db, {
      action: 'emergency-rotate',
      subject: 'payments-dek',
      payload: {},
      requiredRoles: ['security'],
      requestedBy: { user: 'req', role: 'admin' },
      reason: 'suspected compromise',
      ttlMs: TTL_MS,
      correlationId: 'corr-expire',
    })
    clock = new Date(clock.getTime() + TTL_MS + 1)
    expect((await service.list({ state: 'expired' })).map((a) => a.id)).toContain(id)
    await expect(service.approve(id, PEOPLE[1] as Decider)).rejects.toMatchObject({ code: 'CONFLICT' })
    const audited = await store.db
      .selectFrom('audit_events')
      .select('action')
      .where('correlation_id', '=', 'corr-expire')
      .execute()
    expect(audited.map((a) => a.action)).toEqual(['approval.requested', 'approval.expired'])
  })

  it('refuses a request for an action nobody can execute, and one without a reason', async () => {
    const service = approvals()
    const input = {
      action: 'config.apply' as const,
      subject: 'config',
      payload: {},
      requiredRoles: ['admin' as const],
      requestedBy: { user: 'req', role: 'admin' as const },
      reason: 'apply config v8',
      ttlMs: TTL_MS,
      correlationId: 'corr-bad',
    }
    await expect(service.request(store.db, input)).rejects.toMatchObject({ code: 'INTERNAL' })
    service.register('config.apply', async () => undefined)
    await expect(service.request(store.db, { ...input, reason: '  ' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    })
    await expect(service.request(store.db, input)).resolves.toMatchObject({ state: 'pending' })
  })
})

interface Problem {
  status: number
  code: string
}

describe.each(DIALECTS)('approvals over HTTP on %s', (dialect) => {
  let h: Harness
  const tokens: Record<string, string> = {}

  beforeAll(async () => {
    // no keys: the real verify --all passes, so halt release requests make approvals to decide
    h = await startHarness(dialect, 'keys: []\n')
    for (const [user, role] of [
      ['alice', 'admin'],
      ['bob', 'admin'],
      ['sam', 'security'],
      ['sue', 'security'],
      ['otto', 'operator'],
      ['vera', 'viewer'],
    ]) {
      const res = await h.api<{ token: string }>('POST', '/v1/tokens', { user, role })
      tokens[user as string] = res.body.token
    }
  })
  afterAll(async () => h?.stop())

  /** A fresh release request by alice: one still pending from an earlier test is withdrawn first. */
  async function releaseRequest(): Promise<ApprovalView> {
    const pending = await h.api<ApprovalView[]>('GET', '/v1/approvals?state=pending')
    for (const { id } of pending.body) {
      expect(
        (await h.api('POST', `/v1/approvals/${id}/reject`, { reason: 'next test' }, tokens.alice)).status,
      ).toBe(200)
    }
    const halt = await h.api('GET', '/v1/halt')
    if (!(halt.body as { engaged: boolean }).engaged) {
      expect((await h.api('POST', '/v1/halt', { reason: 'drill' }, tokens.alice)).status).toBe(200)
    }
    const res = await h.api<ApprovalView>('POST', '/v1/halt/release', { reason: 'drill over' }, tokens.alice)
    expect(res.status).toBe(202)
    return res.body
  }

  it('answers 403 SELF_APPROVAL to the requester and 403 FORBIDDEN to roles that cannot decide', async () => {
    const { id } = await releaseRequest()
    const self = await h.api<Problem>('POST', `/v1/approvals/${id}/approve`, {}, tokens.alice)
    expect(self.status).toBe(403)
    expect(self.body.code).toBe('SELF_APPROVAL')
    for (const user of ['otto', 'vera']) {
      const res = await h.api<Problem>('POST', `/v1/approvals/${id}/approve`, {}, tokens[user])
      expect(res.status).toBe(403)
      expect(res.body.code).toBe('FORBIDDEN')
    }
  })

  it('refuses a second security approval and a second decision by one person with 409', async () => {
    const { id } = await releaseRequest()
    expect((await h.api('POST', `/v1/approvals/${id}/approve`, {}, tokens.sam)).status).toBe(200)
    const again = await h.api<Problem>('POST', `/v1/approvals/${id}/approve`, {}, tokens.sam)
    expect(again.body).toMatchObject({ status: 409, code: 'CONFLICT' })
    const secondSecurity = await h.api<Problem>('POST', `/v1/approvals/${id}/approve`, {}, tokens.sue)
    expect(secondSecurity.body).toMatchObject({ status: 403, code: 'FORBIDDEN' })
    const listed = await h.api<ApprovalView[]>('GET', '/v1/approvals?state=pending', undefined, tokens.vera)
    expect(listed.body.find((a) => a.id === id)).toMatchObject({
      state: 'pending',
      requestedBy: 'alice',
      requiredRoles: ['security', 'admin'],
      approvals: [{ by: 'sam', role: 'security' }],
    })
  })

  it('rejects with a reason, records it, and refuses every later decision', async () => {
    const { id, correlationId } = await releaseRequest()
    const noReason = await h.api<Problem>('POST', `/v1/approvals/${id}/reject`, {}, tokens.sam)
    expect(noReason.body).toMatchObject({ status: 400, code: 'BAD_REQUEST' })
    const rejected = await h.api<ApprovalView>(
      'POST',
      `/v1/approvals/${id}/reject`,
      { reason: 'not yet' },
      tokens.sam,
    )
    expect(rejected.status).toBe(200)
    expect(rejected.body).toMatchObject({ state: 'rejected', rejections: [{ by: 'sam', reason: 'not yet' }] })
    const late = await h.api<Problem>('POST', `/v1/approvals/${id}/approve`, {}, tokens.bob)
    expect(late.body).toMatchObject({ status: 409, code: 'CONFLICT' })
    expect((await h.api<{ engaged: boolean }>('GET', '/v1/halt')).body.engaged).toBe(true)
    const audited = await h.keyrotor.store.db
      .selectFrom('audit_events')
      .select(['action', 'actor'])
      .where('correlation_id', '=', correlationId)
      .where('action', 'like', 'approval.%')
      .orderBy('seq')
      .execute()
    expect(audited).toEqual([
      { action: 'approval.requested', actor: 'alice' },
      { action: 'approval.rejected', actor: 'sam' },
    ])
  })

  it('lets the requester withdraw their own request', async () => {
    const { id } = await releaseRequest()
    const withdrawn = await h.api<ApprovalView>(
      'POST',
      `/v1/approvals/${id}/reject`,
      { reason: 'mine, withdrawn' },
      tokens.alice,
    )
    expect(withdrawn.body).toMatchObject({ state: 'rejected', rejections: [{ by: 'alice' }] })
  })

  it('answers 404 for an unknown approval', async () => {
    const res = await h.api<Problem>('POST', '/v1/approvals/apr_nope/approve', {}, tokens.sam)
    expect(res.body).toMatchObject({ status: 404, code: 'NOT_FOUND' })
  })
})
