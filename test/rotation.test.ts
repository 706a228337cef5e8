import { afterEach, describe, expect, it } from 'vitest'
import type { KeyView, RunView } from '../src/engine/views.js'
import { startDataKeyDependent, startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

describe.each(DIALECTS)('a rotation end to end on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(policy?: string) {
    const dep = await planDependent('payments-api')
    const h = await startHarness(
      dialect,
      `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [dep], ...(policy === undefined ? {} : { policy }) })}`,
      {
        secrets: secretsOf([dep]),
      },
    )
    cleanups.push(() => h.stop())
    return { h, dep }
  }

  async function startService(h: Harness, dep: Awaited<ReturnType<typeof planDependent>>) {
    const service = await startDataKeyDependent(h, dep, 'payments-dek')
    cleanups.push(() => service.close())
    return service
  }

  it('rotates a data key through every phase while the service keeps decrypting', async () => {
    const { h, dep } = await setup()
    const service = await startService(h, dep)
    const before = service.encrypt('hello')

    const created = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', { reason: 'test' })
    expect(created.status).toBe(201)
    const run = await waitForRun<RunView>(h, created.body.id)
    expect(run).toMatchObject({ state: 'succeeded', fromVersion: 1, toVersion: 2, failure: null })
    expect(run.validation?.passed).toBe(true)

    const events = (
      await h.api<{ events: { type: string; phase: string | null }[] }>('GET', `/v1/runs/${run.id}/events`)
    ).body.events
    const completed = events.filter((e) => e.type === 'phase.completed').map((e) => e.phase)
    expect(completed).toEqual(['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate'])

    const key = (await h.api<KeyView>('GET', '/v1/keys/payments-dek')).body
    expect(key.versions.map((v) => [v.version, v.state])).toEqual([
      [1, 'retiring'],
      [2, 'active'],
    ])
    expect(key.aliases).toEqual([{ name: 'alias/payments-dek', version: 2 }])
    expect(key.dependents[0]).toMatchObject({
      name: 'payments-api',
      accepts: [1, 2],
      active: 2,
      lastError: null,
    })
    expect(key.dependents[0]?.lastNotice).toBe('key.version.promoted v2')

    expect(service.decrypt(before)).toBe('hello')
    expect(service.encrypt('again').version).toBe(2)
  })

  it('fails in preflight and leaves the key untouched when a dependent is unreachable', async () => {
    const { h } = await setup()
    const created = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})
    const run = await waitForRun<RunView>(h, created.body.id)
    expect(run.state).toBe('failed')
    expect(run.failure).toMatchObject({ class: 'preflight_rejected', phase: 'preflight' })
    expect(run.failure?.message).toContain('payments-api')
    const key = (await h.api<KeyView>('GET', '/v1/keys/payments-dek')).body
    expect(key.versions.map((v) => v.state)).toEqual(['active'])
    expect(key.aliases[0]?.version).toBe(1)
  })

  it('fails as dependency_not_ready with the alias still on the old version when a dependent never loads the new one', async () => {
    const { h, dep } = await setup('{ gracePeriod: 1h, phaseTimeout: 1s }')
    const service = await startService(h, dep)
    // the service answers probes but drops every notice: it never stages v2
    service.dependent.handleNotice = async () => ({ status: 503 })
    const created = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})
    const run = await waitForRun<RunView>(h, created.body.id)
    expect(run.state).toBe('failed')
    expect(run.failure?.phase).toBe('distribute')
    expect(['dependency_not_ready', 'timeout']).toContain(run.failure?.class)
    const key = (await h.api<KeyView>('GET', '/v1/keys/payments-dek')).body
    expect(key.aliases[0]?.version).toBe(1)
    expect(key.versions.find((v) => v.state === 'active')?.version).toBe(1)
    const alerts = (await h.api<{ type: string; runId: string }[]>('GET', '/v1/alerts')).body
    expect(alerts.some((a) => a.runId === run.id)).toBe(true)
  })
})
