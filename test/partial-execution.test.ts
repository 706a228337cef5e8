import { afterEach, describe, expect, it } from 'vitest'
import type { RunView } from '../src/engine/views.js'
import { startDataKeyDependent, startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

interface Approval {
  id: string
  action: string
  state: string
  requiredRoles: string[]
}

/**
 * The partial-execution playbook end to end: a run stops after promote, everything halts and is
 * escalated; a security-approved forward correction finishes the promotion while halted; the halt
 * is released only after verify --all passes and two other people approve.
 */
describe.each(DIALECTS)('partial execution and its recovery on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function person(h: Harness, user: string, role: string): Promise<string> {
    return (await h.api<{ token: string }>('POST', '/v1/tokens', { user, role })).body.token
  }

  it('halts everything, corrects forward with a security approval, and releases the halt with two more', async () => {
    const dep = await planDependent('payments-api')
    const config = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [dep], policy: '{ gracePeriod: 1h, phaseTimeout: 1s }' })}${keyYaml({ id: 'other-dek', algorithm: 'aes-256-gcm', dependents: [] })}`
    const h = await startHarness(dialect, config, { secrets: secretsOf([dep]) })
    cleanups.push(() => h.stop())
    const service = await startDataKeyDependent(h, dep, 'payments-dek')
    cleanups.push(() => service.close())
    const operator = await person(h, 'olga', 'operator')
    const securityA = await person(h, 'sam', 'security')
    const securityB = await person(h, 'sue', 'security')
    const adminB = await person(h, 'bob', 'admin')

    // the service takes the promotion notice but never switches: confirm runs out of time
    const original = service.dependent.handleNotice.bind(service.dependent)
    service.dependent.handleNotice = async (body, headers) =>
      (JSON.parse(body) as { event: string }).event === 'key.version.promoted'
        ? { status: 200 }
        : original(body, headers)
    const stopped = await waitForRun<RunView>(
      h,
      (await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {}, operator)).body.id,
    )
    expect(stopped).toMatchObject({ state: 'halted', failure: { phase: 'confirm' } })

    const halt = (await h.api<{ engaged: boolean; reason: string }>('GET', '/v1/halt')).body
    expect(halt.engaged).toBe(true)
    expect(halt.reason).toContain(stopped.id)
    const alerts = (await h.api<{ type: string; runId: string }[]>('GET', '/v1/alerts')).body
    expect(alerts).toContainEqual(expect.objectContaining({ type: 'partial_execution', runId: stopped.id }))
    const incidents = (await h.api<{ runId: string; state: string }[]>('GET', '/v1/incidents')).body
    expect(incidents).toContainEqual(expect.objectContaining({ runId: stopped.id, state: 'open' }))
    // frozen: no rotation of any key while halted
    expect((await h.api('POST', '/v1/keys/other-dek/rotations', {}, operator)).status).toBe(423)

    // forward correction, never a rollback: requested by the operator, approved by security
    service.dependent.handleNotice = original
    expect((await h.api('POST', '/v1/keys/payments-dek/forward-corrections', {}, operator)).status).toBe(400)
    const fc = await h.api<RunView>(
      'POST',
      '/v1/keys/payments-dek/forward-corrections',
      { reason: 'finish the promotion of v2' },
      operator,
    )
    expect(fc.status).toBe(201)
    expect(fc.body).toMatchObject({ kind: 'forward-correct', state: 'awaiting_approval' })
    const approval = (await h.api<Approval[]>('GET', '/v1/approvals?state=pending')).body.find(
      (a) => a.action === 'forward-correct',
    )
    expect(approval?.requiredRoles).toEqual(['security'])
    expect((await h.api('POST', `/v1/approvals/${approval?.id}/approve`, {}, operator)).status).toBe(403)
    expect((await h.api('POST', `/v1/approvals/${approval?.id}/approve`, {}, securityA)).status).toBe(200)
    const corrected = await waitForRun<RunView>(h, fc.body.id)
    expect(corrected).toMatchObject({ state: 'succeeded', fromVersion: 1, toVersion: 2 })
    expect(service.probeAnswer()).toMatchObject({ active: 2 })

    // the halt stays until verify --all passes and a security and an admin, not the requester, approve
    expect((await h.api<{ engaged: boolean }>('GET', '/v1/halt')).body.engaged).toBe(true)
    const release = await h.api<Approval>('POST', '/v1/halt/release', {
      reason: 'payments-dek corrected forward',
    })
    expect(release.status).toBe(202)
    expect(
      (await h.api<{ code: string }>('POST', `/v1/approvals/${release.body.id}/approve`, {})).body.code,
    ).toBe('SELF_APPROVAL')
    expect((await h.api('POST', `/v1/approvals/${release.body.id}/approve`, {}, securityB)).status).toBe(200)
    expect((await h.api<{ engaged: boolean }>('GET', '/v1/halt')).body.engaged).toBe(true)
    expect((await h.api('POST', `/v1/approvals/${release.body.id}/approve`, {}, adminB)).status).toBe(200)
    expect((await h.api<{ engaged: boolean }>('GET', '/v1/halt')).body.engaged).toBe(false)

    const next = await waitForRun<RunView>(
      h,
      (await h.api<RunView>('POST', '/v1/keys/other-dek/rotations', {}, operator)).body.id,
    )
    expect(next.state).toBe('succeeded')
  })
})
