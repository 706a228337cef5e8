import { afterEach, describe, expect, it } from 'vitest'
import type { ProviderVersionState } from '../src/domain/lifecycle.js'
import type { RunView } from '../src/engine/views.js'
import type { Alert } from '../src/observability/alerts.js'
import { runCliProcess } from './helpers/cli.js'
import { startDataKeyDependent, startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf, type PlannedDependent } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

interface Report {
  key: string
  passed: boolean
  checks: { name: string; passed: boolean; detail: string }[]
  mismatches: string[]
}

const KEY = 'payments-dek'

describe.each(DIALECTS)('verify on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(policy?: string) {
    const dep = await planDependent('payments-api')
    const yaml = `keys:${keyYaml({ id: KEY, algorithm: 'aes-256-gcm', dependents: [dep], ...(policy === undefined ? {} : { policy }) })}`
    const h = await startHarness(dialect, yaml, { secrets: secretsOf([dep]) })
    cleanups.push(() => h.stop())
    return { h, service: await startService(h, dep) }
  }

  async function startService(h: Harness, dep: PlannedDependent) {
    const service = await startDataKeyDependent(h, dep, KEY)
    cleanups.push(() => service.close())
    return service
  }

  async function rotate(h: Harness): Promise<RunView> {
    const created = await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, {})
    expect(created.status).toBe(201)
    return waitForRun<RunView>(h, created.body.id)
  }

  /** Behind the store's back: what an operator with provider access (or an attacker) might do. */
  async function setAtProvider(h: Harness, version: number, state: ProviderVersionState) {
    await h.keyrotor.engine.providers
      .get('local')
      .setVersionState({ keyId: KEY, algorithm: 'aes-256-gcm' }, version, state)
  }

  async function frozenAt(h: Harness): Promise<string | null> {
    const row = await h.keyrotor.store.db
      .selectFrom('keys')
      .select('frozen_at')
      .where('id', '=', KEY)
      .executeTakeFirstOrThrow()
    return row.frozen_at
  }

  async function transitionAlerts(h: Harness): Promise<Alert[]> {
    const alerts = (await h.api<Alert[]>('GET', '/v1/alerts')).body
    return alerts.filter((a) => a.type === 'unexpected_transition' && a.key === KEY)
  }

  it('passes after a successful rotation and records the verification', async () => {
    const { h } = await setup()
    expect((await rotate(h)).state).toBe('succeeded')

    const verified = await h.api<Report>('POST', `/v1/keys/${KEY}/verify`)
    expect(verified.status).toBe(200)
    expect(verified.body).toMatchObject({ key: KEY, passed: true, mismatches: [] })
    expect(verified.body.checks.map((c) => c.name)).toEqual([
      'version-states',
      'unknown-versions',
      'alias-mapping',
      'dependents',
    ])
    const rows = await h.keyrotor.store.db.selectFrom('verifications').selectAll().execute()
    expect(rows).toMatchObject([{ scope: 'key', key_id: KEY, run_id: null, by_user: 'admin' }])
    expect(Number(rows[0]?.passed)).toBe(1)
  })

  it('fails naming the version disabled behind the store, freezes the key, and thaws it once repaired', async () => {
    const { h } = await setup()
    expect((await rotate(h)).state).toBe('succeeded')
    await setAtProvider(h, 1, 'disabled')

    const failed = await h.api<Report>('POST', `/v1/keys/${KEY}/verify`)
    expect(failed.body.passed).toBe(false)
    expect(failed.body.mismatches.join('\n')).toContain(
      'v1 is retiring in the store but disabled at the provider',
    )
    const [alert] = await transitionAlerts(h)
    expect(alert).toMatchObject({ severity: 'critical', state: 'open' })
    expect(alert?.message).toMatch(
      /payments-dek v1: the store has it retiring, the provider reports disabled/,
    )
    expect(await frozenAt(h)).not.toBeNull()

    const refused = await h.api<{ code: string; detail: string }>('POST', `/v1/keys/${KEY}/rotations`, {})
    expect(refused.status).toBe(422)
    expect(refused.body.code).toBe('PREFLIGHT_REJECTED')
    expect(refused.body.detail).toMatch(/key payments-dek is frozen since .*: unexpected transition/)

    await setAtProvider(h, 1, 'enabled')
    const passed = await h.api<Report>('POST', `/v1/keys/${KEY}/verify`)
    expect(passed.body.passed).toBe(true)
    expect(await frozenAt(h)).toBeNull()
    expect((await transitionAlerts(h)).map((a) => a.state)).toEqual(['resolved'])
    expect((await rotate(h)).state).toBe('succeeded')
  })

  it('treats a provider version the store does not know as an unexpected transition', async () => {
    const { h } = await setup()
    await h.keyrotor.engine.providers.get('local').createVersion({ keyId: KEY, algorithm: 'aes-256-gcm' }, 2)
    const failed = await h.api<Report>('POST', `/v1/keys/${KEY}/verify`)
    expect(failed.body.passed).toBe(false)
    expect(failed.body.checks.find((c) => c.name === 'unknown-versions')).toMatchObject({
      passed: false,
      detail: 'v2 exists at the provider (enabled) but not in the store',
    })
    expect(await frozenAt(h)).not.toBeNull()
  })

  it('fails without freezing when a dependent cannot be reached', async () => {
    const { h, service } = await setup()
    await service.close()
    const failed = await h.api<Report>('POST', `/v1/keys/${KEY}/verify`)
    expect(failed.body.passed).toBe(false)
    expect(failed.body.checks.find((c) => c.name === 'dependents')?.detail).toContain('payments-api')
    expect(await frozenAt(h)).toBeNull()
    expect(await transitionAlerts(h)).toEqual([])
  })

  it('refuses to verify a key while a run on it is running', async () => {
    const { h, service } = await setup('{ gracePeriod: 1h, phaseTimeout: 20s }')
    // the service drops notices: the run waits in distribute
    service.dependent.handleNotice = async () => ({ status: 503 })
    const created = await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, {})
    await waitForPhase(h, created.body.id, 'distribute')
    const refused = await h.api<{ code: string; detail: string }>('POST', `/v1/keys/${KEY}/verify`)
    expect(refused.status).toBe(409)
    expect(refused.body.detail).toContain(created.body.id)
  })

  it('verifies every key, recording one row per key and one for all, and the CLI exits by the outcome', async () => {
    const { h } = await setup()
    const env = { KEYROTOR_URL: h.url, KEYROTOR_TOKEN: h.adminToken }
    const all = await h.api<{ passed: boolean; keys: Report[] }>('POST', '/v1/verify')
    expect(all.body).toMatchObject({ passed: true, keys: [{ key: KEY, passed: true }] })
    const scopes = await h.keyrotor.store.db.selectFrom('verifications').select('scope').execute()
    expect(scopes.map((s) => s.scope).sort()).toEqual(['all', 'key'])
    expect((await runCliProcess(['verify', '--all', '--json'], env)).code).toBe(0)

    await setAtProvider(h, 1, 'disabled')
    const cli = await runCliProcess(['verify', KEY, '--json'], env)
    expect(cli.code).toBe(1)
    expect((JSON.parse(cli.stdout) as Report).passed).toBe(false)
  })
})

/** Polls the run until it is running in `phase`. */
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
