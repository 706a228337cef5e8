import { afterEach, describe, expect, it } from 'vitest'
import type { DataKeyService } from '../src/demo/sample-services.js'
import type { RunView } from '../src/engine/views.js'
import type { Alert } from '../src/observability/alerts.js'
import { startDataKeyDependent, startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf, type PlannedDependent } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

const KEY = 'payments-dek'

interface Problem {
  code: string
  detail: string
}

describe.each(DIALECTS)('retry and cancel on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(policy: string) {
    const dep = await planDependent('payments-api')
    const yaml = `keys:${keyYaml({ id: KEY, algorithm: 'aes-256-gcm', dependents: [dep], policy })}`
    const h = await startHarness(dialect, yaml, { secrets: secretsOf([dep]) })
    cleanups.push(() => h.stop())
    return { h, service: await startService(h, dep) }
  }

  async function startService(h: Harness, dep: PlannedDependent): Promise<DataKeyService> {
    const service = await startDataKeyDependent(h, dep, KEY)
    cleanups.push(() => service.close())
    return service
  }

  async function startRotation(h: Harness): Promise<RunView> {
    const created = await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, {})
    expect(created.status).toBe(201)
    return created.body
  }

  /** A run that fails in distribute: the service drops every notice until `restore` is called. */
  async function failInDistribute(h: Harness, service: DataKeyService) {
    const original = service.dependent.handleNotice.bind(service.dependent)
    service.dependent.handleNotice = async () => ({ status: 503 })
    const run = await waitForRun<RunView>(h, (await startRotation(h)).id)
    expect(run).toMatchObject({ state: 'failed', failure: { phase: 'distribute' } })
    return { run, restore: () => (service.dependent.handleNotice = original) }
  }

  /** A run parked before its natural start: queued, claimable by no worker for now. */
  async function queuedRun(h: Harness): Promise<string> {
    const { run } = await h.keyrotor.runs.request({
      keyId: KEY,
      kind: 'rotate',
      actor: 'test',
      trigger: 'manual',
      notBefore: '2999-01-01T00:00:00.000Z',
    })
    return run.id
  }

  it('refuses a retry until a verify has passed, then resumes from the failed phase to success', async () => {
    const { h, service } = await setup('{ gracePeriod: 1h, phaseTimeout: 1s }')
    const { run, restore } = await failInDistribute(h, service)

    const early = await h.api<Problem>('POST', `/v1/runs/${run.id}/retry`)
    expect(early.status).toBe(409)
    expect(early.body.code).toBe('NOT_VERIFIED')

    restore()
    const verified = await h.api<RunView & { passed: boolean; runId: string }>(
      'POST',
      `/v1/runs/${run.id}/verify`,
    )
    expect(verified.body).toMatchObject({ runId: run.id, id: run.id, state: 'failed', passed: true })

    const retried = await h.api<RunView>('POST', `/v1/runs/${run.id}/retry`)
    expect(retried.status).toBe(200)
    expect(retried.body).toMatchObject({
      state: 'queued',
      phase: 'distribute',
      failure: null,
      finishedAt: null,
    })

    const done = await waitForRun<RunView>(h, run.id)
    expect(done).toMatchObject({ state: 'succeeded', fromVersion: 1, toVersion: 2 })
    const events = (
      await h.api<{ events: { type: string; phase: string | null; message: string }[] }>(
        'GET',
        `/v1/runs/${run.id}/events`,
      )
    ).body.events
    const completed = events.filter((e) => e.type === 'phase.completed').map((e) => e.phase)
    expect(completed).toEqual(['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate'])
    const retriedEvent = events.find((e) => e.type === 'run.retried')
    expect(retriedEvent?.message).toMatch(/after (dependency_not_ready|timeout) in distribute/)
    const alerts = (await h.api<Alert[]>('GET', '/v1/alerts')).body.filter((a) => a.runId === run.id)
    expect(alerts.length).toBeGreaterThan(0)
    expect(alerts.every((a) => a.state === 'resolved')).toBe(true)
  })

  it('refuses to retry a run whose verify failed after the failure', async () => {
    const { h, service } = await setup('{ gracePeriod: 1h, phaseTimeout: 1s }')
    const { run } = await failInDistribute(h, service)
    await service.close()
    const verified = await h.api<{ passed: boolean }>('POST', `/v1/runs/${run.id}/verify`)
    expect(verified.body.passed).toBe(false)
    const refused = await h.api<Problem>('POST', `/v1/runs/${run.id}/retry`)
    expect(refused.body.code).toBe('NOT_VERIFIED')
  })

  it('refuses to retry while another run holds the key, and refuses halted and succeeded runs', async () => {
    const { h, service } = await setup('{ gracePeriod: 1h, phaseTimeout: 1s }')
    const { run, restore } = await failInDistribute(h, service)
    restore()
    expect((await h.api<{ passed: boolean }>('POST', `/v1/runs/${run.id}/verify`)).body.passed).toBe(true)
    const other = await queuedRun(h)
    const concurrent = await h.api<Problem>('POST', `/v1/runs/${run.id}/retry`)
    expect(concurrent.status).toBe(409)
    expect(concurrent.body.code).toBe('CONCURRENT_ROTATION')
    expect(concurrent.body.detail).toContain(other)

    await h.keyrotor.store.db.updateTable('runs').set({ state: 'halted' }).where('id', '=', run.id).execute()
    const halted = await h.api<Problem>('POST', `/v1/runs/${run.id}/retry`)
    expect(halted.status).toBe(409)
    expect(halted.body.detail).toContain('halted runs are repaired by forward-correct')

    expect((await h.api('POST', `/v1/runs/${other}/cancel`)).status).toBe(200)
    const succeeded = await waitForRun<RunView>(h, (await startRotation(h)).id)
    expect(succeeded.state).toBe('succeeded')
    const refused = await h.api<Problem>('POST', `/v1/runs/${succeeded.id}/retry`)
    expect(refused.status).toBe(409)
    expect(refused.body.detail).toContain('is succeeded')
  })

  it('cancels a queued run at once and frees its key', async () => {
    const { h } = await setup('{ gracePeriod: 1h, phaseTimeout: 3s }')
    const id = await queuedRun(h)
    const cancelled = await h.api<RunView>('POST', `/v1/runs/${id}/cancel`)
    expect(cancelled.status).toBe(200)
    expect(cancelled.body.state).toBe('cancelled')
    expect(cancelled.body.finishedAt).not.toBeNull()
    const again = await h.api<Problem>('POST', `/v1/runs/${id}/cancel`)
    expect(again.status).toBe(409)
    expect((await waitForRun<RunView>(h, (await startRotation(h)).id)).state).toBe('succeeded')
  })

  it('accepts a cancel of a running run before promote with 202 and records the request', async () => {
    const { h, service } = await setup('{ gracePeriod: 1h, phaseTimeout: 20s }')
    service.dependent.handleNotice = async () => ({ status: 503 })
    const { id } = await startRotation(h)
    await waitForPhase(h, id, 'distribute')
    const requested = await h.api<RunView>('POST', `/v1/runs/${id}/cancel`)
    expect(requested.status).toBe(202)
    expect(requested.body.state).toBe('running')
    const row = await h.keyrotor.store.db
      .selectFrom('runs')
      .select('cancel_requested_at')
      .where('id', '=', id)
      .executeTakeFirstOrThrow()
    expect(row.cancel_requested_at).not.toBeNull()
  })

  it('stops a run cancelled during distribute at the boundary before promote, the alias still on v1', async () => {
    const { h, service } = await setup('{ gracePeriod: 1h, phaseTimeout: 20s }')
    const original = service.dependent.handleNotice.bind(service.dependent)
    service.dependent.handleNotice = async () => ({ status: 503 })
    const { id } = await startRotation(h)
    await waitForPhase(h, id, 'distribute')
    expect((await h.api<RunView>('POST', `/v1/runs/${id}/cancel`)).status).toBe(202)
    // the dependent recovers: distribute completes, and the run must stop before promote
    service.dependent.handleNotice = original
    const run = await waitForRun<RunView>(h, id)
    expect(run.state).toBe('cancelled')
    const key = (
      await h.api<{ aliases: { version: number }[]; versions: { state: string }[] }>('GET', `/v1/keys/${KEY}`)
    ).body
    expect(key.aliases[0]?.version).toBe(1)
    expect(key.versions.map((v) => v.state)).toEqual(['active', 'pending'])
  })

  it('refuses to cancel a run that has promoted', async () => {
    const { h, service } = await setup('{ gracePeriod: 1h, phaseTimeout: 20s }')
    // the service takes the promotion notice but never switches: confirm waits for it
    const original = service.dependent.handleNotice.bind(service.dependent)
    service.dependent.handleNotice = async (body, headers) =>
      (JSON.parse(body) as { event: string }).event === 'key.version.promoted'
        ? { status: 200 }
        : original(body, headers)
    const { id } = await startRotation(h)
    await waitForPhase(h, id, 'confirm')
    const refused = await h.api<Problem>('POST', `/v1/runs/${id}/cancel`)
    expect(refused.status).toBe(409)
    expect(refused.body.code).toBe('CONFLICT')
    expect(refused.body.detail).toContain('only be cancelled before promote: it has moved the alias')
  })
})

async function waitForPhase(h: Harness, runId: string, phase: string): Promise<RunView> {
  const until = Date.now() + 15_000
  for (;;) {
    const run = (await h.api<RunView>('GET', `/v1/runs/${runId}`)).body
    if (run.state === 'running' && run.phase === phase) return run
    if (Date.now() > until)
      throw new Error(`run ${runId} did not reach ${phase}: ${run.state} in ${run.phase}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
