import { afterEach, describe, expect, it } from 'vitest'
import type { DependentClient } from '../src/dependents/dependent-client.js'
import type { RunView } from '../src/engine/views.js'
import type { Alert } from '../src/observability/alerts.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { until } from './helpers/instances.js'
import { DIALECTS } from './helpers/stores.js'

/**
 * Issue 9 item 3: a phase whose call never settles. The dependent client is replaced (the one
 * fake here, type-checked against the real interface) by one whose notices never answer and
 * ignore their abort signal: what a provider stuck in a native call or a wedged library does,
 * and what no real dependent can be made to do once the HTTP client honours its signal. Before,
 * such a run stayed `running` for good, `runs cancel` did nothing and shutdown hung.
 */

const never = () => new Promise<never>(() => undefined)

/** Healthy answers to probes (so pre-flight passes); notices that never settle. */
const wedged: DependentClient = {
  probe: async (target) => ({ key: target.key, accepts: [1], active: 1 }),
  notify: never,
}

const config = (phaseTimeout: string) => `
keys:
  - id: wedged-dek
    provider: local
    algorithm: aes-256-gcm
    owner: test-team
    aliases: [alias/wedged]
    policy: { gracePeriod: 1h, phaseTimeout: ${phaseTimeout} }
    dependents:
      - name: wedged-svc
        probe: { http: "http://127.0.0.1:9/probe" }
        notify: { http: "http://127.0.0.1:9/notify" }
`

describe.each(DIALECTS)('a phase that never settles, on %s', (dialect) => {
  let h: Harness | undefined

  afterEach(async () => {
    await h?.stop()
    h = undefined
  })

  it('fails at its deadline (timeout, with its alert) and frees the key for the next run', async () => {
    h = await startHarness(dialect, config('2s'), { dependentClient: wedged })
    const { body: run } = await h.api<RunView>('POST', '/v1/keys/wedged-dek/rotations', {})
    const ended = await waitForRun<RunView>(h, run.id, 20_000)
    expect(ended).toMatchObject({ state: 'failed', failure: { class: 'timeout', phase: 'distribute' } })
    expect(ended.failure?.message).toMatch(/distribute did not end by its deadline/)
    const tookS = (Date.parse(ended.finishedAt ?? '') - Date.parse(ended.startedAt ?? '')) / 1000
    // pre-flight and create are quick; distribute gets 2 s and the watchdog's 1 s of grace
    expect(tookS).toBeLessThan(6)
    const alerts = (await h.api<Alert[]>('GET', '/v1/alerts')).body
    expect(alerts.filter((a) => a.runId === run.id).map((a) => a.type)).toEqual(['rotation_timeout'])
    expect((await h.api('POST', '/v1/keys/wedged-dek/rotations', {})).status, 'the key is free').toBe(201)
  })

  it('stops the phase at a cancel and ends the run cancelled; shutdown does not wait for the phase', async () => {
    h = await startHarness(dialect, config('10m'), { dependentClient: wedged })
    const harness = h
    const { body: run } = await harness.api<RunView>('POST', '/v1/keys/wedged-dek/rotations', {})
    await until(
      'the run to be in distribute',
      async () => {
        const { body } = await harness.api<RunView>('GET', `/v1/runs/${run.id}`)
        return body.phase === 'distribute' ? body : undefined
      },
      10_000,
    )
    const cancel = await harness.api<RunView>('POST', `/v1/runs/${run.id}/cancel`)
    expect(cancel.status).toBe(202)
    const ended = await waitForRun<RunView>(harness, run.id, 10_000)
    expect(ended).toMatchObject({ state: 'cancelled', phase: 'distribute' })

    // another run wedged in distribute: close() still returns, the run is left to resume
    const { body: second } = await harness.api<RunView>('POST', '/v1/keys/wedged-dek/rotations', {})
    await until(
      'the second run to be in distribute',
      async () => {
        const { body } = await harness.api<RunView>('GET', `/v1/runs/${second.id}`)
        return body.phase === 'distribute' ? body : undefined
      },
      10_000,
    )
    const closing = Date.now()
    await harness.keyrotor.close()
    expect(Date.now() - closing).toBeLessThan(5_000)
    // close() again in afterEach is harmless: stop() closes whichever instance runs now
    harness.keyrotor.close = async () => undefined
  })
})
