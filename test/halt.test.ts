import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ApprovalView } from '../src/governance/approvals.js'
import type { Alert } from '../src/observability/alerts.js'
import type { Incident } from '../src/observability/incidents.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

interface Problem {
  status: number
  code: string
  detail: string
  mismatches?: { key: string; mismatches: string[] }[]
}
interface Halt {
  engaged: boolean
  reason: string | null
  by: string | null
  since: string | null
}

describe.each(DIALECTS)('the global halt on %s', (dialect) => {
  let h: Harness
  const tokens: Record<string, string> = {}

  beforeAll(async () => {
    h = await startHarness(
      dialect,
      `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [] })}`,
    )
    for (const [user, role] of [
      ['alice', 'admin'],
      ['bob', 'admin'],
      ['sam', 'security'],
      ['otto', 'operator'],
    ]) {
      tokens[user as string] = (
        await h.api<{ token: string }>('POST', '/v1/tokens', { user, role })
      ).body.token
    }
  })
  afterAll(async () => h?.stop())

  /**
   * Makes the provider disagree with the store, as a real drift would: the local provider's
   * versions of the key turn disabled while the store holds one active (`false` undoes it).
   */
  async function drift(on: boolean): Promise<void> {
    await h.keyrotor.store.db
      .updateTable('local_keystore')
      .set({ state: on ? 'disabled' : 'enabled' })
      .where('key_id', '=', 'payments-dek')
      .execute()
  }

  /** Who ran verify --all (scope 'all') since `since` rows were recorded. */
  async function verifiedBy(since = 0): Promise<string[]> {
    const rows = await h.keyrotor.store.db
      .selectFrom('verifications')
      .select('by_user')
      .where('scope', '=', 'all')
      .orderBy('at')
      .execute()
    return rows.slice(since).map((r) => r.by_user)
  }

  const halt = async () => (await h.api<Halt>('GET', '/v1/halt')).body

  async function engage(reason = 'suspicious provider activity'): Promise<void> {
    if ((await halt()).engaged) return
    const res = await h.api<Halt>('POST', '/v1/halt', { reason }, tokens.alice)
    expect(res.status).toBe(200)
  }

  it('engages with a reason, refuses rotations with 423, and alerts, audits and opens an incident', async () => {
    const res = await h.api<Halt>('POST', '/v1/halt', { reason: 'drill 1' }, tokens.sam)
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ engaged: true, reason: 'drill 1', by: 'sam' })
    expect(await halt()).toEqual(res.body)
    const rotation = await h.api<Problem>('POST', '/v1/keys/payments-dek/rotations', {}, tokens.otto)
    expect(rotation.body).toMatchObject({ status: 423, code: 'HALTED' })
    const alerts = (await h.api<Alert[]>('GET', '/v1/alerts?state=open')).body
    expect(alerts.filter((a) => a.type === 'halt_engaged')).toMatchObject([{ severity: 'critical' }])
    const incidents = (await h.api<Incident[]>('GET', '/v1/incidents')).body
    expect(incidents[0]).toMatchObject({ state: 'open', severity: 'critical', summary: 'drill 1' })
    const audited = await h.keyrotor.store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'halt.engaged')
      .execute()
    expect(audited).toMatchObject([{ actor: 'sam', reason: 'drill 1' }])
  })

  it('refuses to engage twice (409), without a reason (400), and for an operator (403)', async () => {
    await engage()
    expect((await h.api<Problem>('POST', '/v1/halt', { reason: 'again' }, tokens.bob)).body).toMatchObject({
      status: 409,
      code: 'CONFLICT',
    })
    expect((await h.api<Problem>('POST', '/v1/halt', {}, tokens.bob)).body.code).toBe('BAD_REQUEST')
    expect((await h.api<Problem>('POST', '/v1/halt', { reason: 'x' }, tokens.otto)).body.code).toBe(
      'FORBIDDEN',
    )
  })

  it('refuses a release request with 409 NOT_VERIFIED and the mismatches while verify --all fails', async () => {
    await engage()
    const before = (await verifiedBy()).length
    await drift(true)
    try {
      const res = await h.api<Problem>('POST', '/v1/halt/release', { reason: 'fixed' }, tokens.alice)
      expect(res.body).toMatchObject({ status: 409, code: 'NOT_VERIFIED' })
      expect(res.body.mismatches).toMatchObject([{ key: 'payments-dek' }])
      expect(res.body.mismatches?.[0]?.mismatches.join(' ')).toContain('disabled')
    } finally {
      await drift(false)
    }
    expect(await verifiedBy(before)).toEqual(['alice'])
    expect((await h.api<ApprovalView[]>('GET', '/v1/approvals?state=pending')).body).toEqual([])
  })

  it('releases only after a security and a second admin approve, never on the requester’s own approval', async () => {
    await engage()
    const verifications = (await verifiedBy()).length
    const engagedSince = (await halt()).since
    await h.keyrotor.engine.alerts.raise(h.keyrotor.store.db, {
      type: 'partial_execution',
      severity: 'critical',
      key: 'payments-dek',
      message: 'stopped between promote and confirm',
    })
    const requested = await h.api<ApprovalView>(
      'POST',
      '/v1/halt/release',
      { reason: 'verified' },
      tokens.alice,
    )
    expect(requested.status).toBe(202)
    expect(requested.body).toMatchObject({ action: 'halt.release', subject: 'halt', state: 'pending' })
    const id = requested.body.id

    const self = await h.api<Problem>('POST', `/v1/approvals/${id}/approve`, {}, tokens.alice)
    expect(self.body).toMatchObject({ status: 403, code: 'SELF_APPROVAL' })
    expect((await h.api('POST', `/v1/approvals/${id}/approve`, {}, tokens.sam)).status).toBe(200)
    expect((await halt()).engaged).toBe(true)

    const last = await h.api<ApprovalView>('POST', `/v1/approvals/${id}/approve`, {}, tokens.bob)
    expect(last.body).toMatchObject({
      state: 'approved',
      approvals: [
        { by: 'sam', role: 'security' },
        { by: 'bob', role: 'admin' },
      ],
    })
    expect(await halt()).toEqual({ engaged: false, reason: null, by: null, since: null })
    // verify ran for the request and again for the completing approval
    expect(await verifiedBy(verifications)).toEqual(['alice', 'bob'])
    const alerts = (await h.api<Alert[]>('GET', '/v1/alerts')).body
    const unresolved = alerts.filter(
      (a) => ['halt_engaged', 'partial_execution'].includes(a.type) && a.state !== 'resolved',
    )
    expect(unresolved).toEqual([])
    const released = await h.keyrotor.store.db
      .selectFrom('audit_events')
      .selectAll()
      .where('action', '=', 'halt.released')
      .executeTakeFirstOrThrow()
    expect(released).toMatchObject({ actor: 'bob', correlation_id: requested.body.correlationId })
    expect(JSON.parse(released.details ?? '{}')).toMatchObject({
      engagedSince,
      requestedBy: 'alice',
      approvedBy: ['sam (security)', 'bob (admin)'],
    })
    const rotation = await h.api<{ id: string }>('POST', '/v1/keys/payments-dek/rotations', {}, tokens.otto)
    expect(rotation.status).toBe(201)
    // a run in flight is not judged by verify --all: let it finish before the next test verifies
    expect((await waitForRun(h, rotation.body.id)).state).toBe('succeeded')
  })

  it('refuses the completing approval with 409 NOT_VERIFIED when verify fails by then, recording nothing', async () => {
    await engage('second drill')
    const { body } = await h.api<ApprovalView>('POST', '/v1/halt/release', {}, tokens.alice)
    expect(body.reason).toContain('second drill')
    expect((await h.api('POST', `/v1/approvals/${body.id}/approve`, {}, tokens.sam)).status).toBe(200)
    await drift(true)
    const refused = await h.api<Problem>('POST', `/v1/approvals/${body.id}/approve`, {}, tokens.bob)
    expect(refused.body).toMatchObject({ status: 409, code: 'NOT_VERIFIED' })
    expect((await h.api<ApprovalView>('GET', `/v1/approvals/${body.id}`)).body).toMatchObject({
      state: 'pending',
      approvals: [{ by: 'sam' }],
    })
    expect((await halt()).engaged).toBe(true)
    await drift(false)
    expect((await h.api('POST', `/v1/approvals/${body.id}/approve`, {}, tokens.bob)).status).toBe(200)
    expect((await halt()).engaged).toBe(false)
  })

  it('answers a release request with 409 CONFLICT when the halt is not engaged', async () => {
    expect((await halt()).engaged).toBe(false)
    const res = await h.api<Problem>('POST', '/v1/halt/release', {}, tokens.alice)
    expect(res.body).toMatchObject({ status: 409, code: 'CONFLICT' })
  })
})
