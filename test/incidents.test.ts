import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createIncidentService, type Incident } from '../src/observability/incidents.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

interface Problem {
  status: number
  code: string
}

describe.each(DIALECTS)('incidents over HTTP on %s', (dialect) => {
  let h: Harness
  const tokens: Record<string, string> = {}

  beforeAll(async () => {
    h = await startHarness(dialect, 'keys: []\n')
    for (const [user, role] of [
      ['sam', 'security'],
      ['otto', 'operator'],
      ['vera', 'viewer'],
    ]) {
      tokens[user as string] = (
        await h.api<{ token: string }>('POST', '/v1/tokens', { user, role })
      ).body.token
    }
  })
  afterAll(async () => h?.stop())

  it('opens an incident escalated to the security and platform leads when the halt is engaged', async () => {
    const engaged = await h.api('POST', '/v1/halt', { reason: 'partial execution drill' }, tokens.sam)
    expect(engaged.status).toBe(200)
    const list = await h.api<Incident[]>('GET', '/v1/incidents', undefined, tokens.vera)
    expect(list.status).toBe(200)
    expect(list.body).toHaveLength(1)
    const [incident] = list.body
    expect(incident).toMatchObject({
      state: 'open',
      severity: 'critical',
      summary: 'partial execution drill',
      escalatedTo: ['security-lead', 'platform-lead'],
      closedAt: null,
      rca: null,
    })
    const shown = await h.api<Incident>('GET', `/v1/incidents/${incident?.id}`, undefined, tokens.vera)
    expect(shown.body).toEqual(incident)
  })

  it('closes an incident with its RCA, audited, once', async () => {
    const [incident] = (await h.api<Incident[]>('GET', '/v1/incidents?state=open')).body
    const id = incident?.id ?? 'missing'
    expect((await h.api<Problem>('POST', `/v1/incidents/${id}/close`, {}, tokens.sam)).body.code).toBe(
      'BAD_REQUEST',
    )
    const byOperator = await h.api<Problem>('POST', `/v1/incidents/${id}/close`, { rca: 'x' }, tokens.otto)
    expect(byOperator.body).toMatchObject({ status: 403, code: 'FORBIDDEN' })
    const rca = '# RCA\n\nA drill. Corrective action: none.'
    const closed = await h.api<Incident>('POST', `/v1/incidents/${id}/close`, { rca }, tokens.sam)
    expect(closed.status).toBe(200)
    expect(closed.body).toMatchObject({ id, state: 'closed', rca, closedBy: 'sam' })
    expect(closed.body.closedAt).not.toBeNull()
    const again = await h.api<Problem>('POST', `/v1/incidents/${id}/close`, { rca }, tokens.sam)
    expect(again.body).toMatchObject({ status: 409, code: 'CONFLICT' })
    const audited = await h.keyrotor.store.db
      .selectFrom('audit_events')
      .select(['actor', 'target'])
      .where('action', '=', 'incident.closed')
      .execute()
    expect(audited).toEqual([{ actor: 'sam', target: id }])
    expect((await h.api<Incident[]>('GET', '/v1/incidents?state=open')).body).toEqual([])
  })

  it('answers 404 for an unknown incident', async () => {
    const res = await h.api<Problem>('GET', '/v1/incidents/inc_nope')
    expect(res.body).toMatchObject({ status: 404, code: 'NOT_FOUND' })
  })
})

describe.each(DIALECTS)('incident service on %s', (dialect) => {
  let store: TestStore
  beforeAll(async () => {
    store = await createTestStore(dialect)
  })
  afterAll(async () => store?.dispose())

  it('opens inside the caller’s transaction: a rolled-back cause leaves no incident', async () => {
    const incidents = createIncidentService({ db: store.db })
    await expect(
      store.db.transaction().execute(async (trx) => {
        await incidents.open(trx, {
          severity: 'critical',
          title: 'partial execution',
          summary: 's',
          runId: 'run_1',
        })
        throw new Error('the halt did not land')
      }),
    ).rejects.toThrow('the halt did not land')
    expect(await incidents.list()).toEqual([])
    const opened = await incidents.open(store.db, {
      severity: 'high',
      title: 'partial execution',
      summary: 'stopped in confirm',
      runId: 'run_2',
      key: 'payments-dek',
      correlationId: 'corr-2',
      escalatedTo: ['security-lead'],
    })
    expect(await incidents.get(opened.id)).toMatchObject({
      runId: 'run_2',
      key: 'payments-dek',
      correlationId: 'corr-2',
      escalatedTo: ['security-lead'],
      state: 'open',
    })
  })
})
