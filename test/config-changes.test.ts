import { createServer, type Server } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startDataKeyService } from '../src/demo/sample-services.js'
import type { KeyView, RunView } from '../src/engine/views.js'
import { missingRoles } from '../src/governance/approval-rules.js'
import type { RoleRequirement } from '../src/domain/approvals.js'
import type { ConfigProposalView, ConfigVersionView } from '../src/config-changes/config-changes.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf, type PlannedDependent } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

type Problem = { code: string; detail: string }

describe('approval requirements with alternatives', () => {
  it('lets either role cover an admin|security requirement, and spends a role on the narrowest one', () => {
    const anyOf: RoleRequirement[] = ['admin|security']
    expect(missingRoles(anyOf, [{ role: 'security' }])).toEqual([])
    expect(missingRoles(anyOf, [{ role: 'admin' }])).toEqual([])
    expect(missingRoles(anyOf, [{ role: 'operator' }])).toEqual(['admin|security'])
    expect(missingRoles(['admin|security', 'security'], [{ role: 'security' }])).toEqual(['admin|security'])
  })
})

describe.each(DIALECTS)('config change management on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(dependents: PlannedDependent[], yaml: string) {
    const h = await startHarness(dialect, yaml, { secrets: secretsOf(dependents) })
    cleanups.push(() => h.stop())
    const tokens: Record<string, string> = {}
    for (const [user, role] of [
      ['bob', 'admin'],
      ['sam', 'security'],
      ['otto', 'operator'],
    ] as const) {
      tokens[user] = (await h.api<{ token: string }>('POST', '/v1/tokens', { user, role })).body.token
    }
    return { h, tokens }
  }

  async function startService(h: Harness, key: string, dep: PlannedDependent) {
    const token = (
      await h.api<{ token: string }>('POST', '/v1/tokens', { user: dep.name, role: 'consumer', key })
    ).body.token
    const service = await startDataKeyService({
      key,
      keyrotorUrl: h.url,
      token,
      secret: dep.secret,
      port: dep.port,
      name: dep.name,
    })
    cleanups.push(() => service.close())
  }

  const change = { summary: 'move payments-api, add billing key', rollbackPlan: 'propose version 1 again' }

  it('applies an approved change as version 2: new key enrolled and rotatable, changed probe used', async () => {
    const [oldDep, newDep, billingDep] = await Promise.all([
      planDependent('payments-api'),
      planDependent('payments-api'),
      planDependent('billing-api'),
    ])
    const deps = [oldDep, newDep, billingDep] as PlannedDependent[]
    const v1 = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [oldDep] })}`
    const { h, tokens } = await setup(deps, v1)
    const v2 =
      `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [newDep] })}` +
      keyYaml({ id: 'billing-hmac', algorithm: 'hmac-sha256', dependents: [billingDep] })

    const denied = await h.api<Problem>('POST', '/v1/config/proposals', { yaml: v2, ...change }, tokens.otto)
    expect(denied).toMatchObject({ status: 403, body: { code: 'FORBIDDEN' } })
    const invalid = await h.api<Problem>('POST', '/v1/config/proposals', {
      yaml: v2.replace('hmac-sha256', 'rot13'),
      ...change,
    })
    expect(invalid).toMatchObject({ status: 400, body: { code: 'INVALID_CONFIG' } })
    expect(invalid.body.detail).toMatch(/keys\[1\]\.algorithm|keys\.1\.algorithm/)

    const proposed = await h.api<ConfigProposalView>('POST', '/v1/config/proposals', { yaml: v2, ...change })
    expect(proposed).toMatchObject({ status: 201, body: { state: 'pending', baseVersion: 1 } })
    const p = proposed.body
    expect(p.diff).toContain(`-        probe: { http: "${oldDep.probeUrl}" }`)
    expect(p.diff).toContain(`+        probe: { http: "${newDep.probeUrl}" }`)
    expect(p.diff).toContain('+  - id: billing-hmac')

    const self = await h.api<Problem>('POST', `/v1/config/proposals/${p.id}/approve`, {})
    expect(self).toMatchObject({ status: 403, body: { code: 'SELF_APPROVAL' } })
    const early = await h.api<Problem>('POST', `/v1/config/proposals/${p.id}/apply`)
    expect(early).toMatchObject({ status: 409, body: { code: 'CONFLICT' } })
    expect(early.body.detail).toContain('pending')

    const approved = await h.api<ConfigProposalView>(
      'POST',
      `/v1/config/proposals/${p.id}/approve`,
      {},
      tokens.sam,
    )
    expect(approved).toMatchObject({ status: 200, body: { state: 'approved', approvedBy: 'sam' } })
    const applied = await h.api<ConfigProposalView>('POST', `/v1/config/proposals/${p.id}/apply`)
    expect(applied).toMatchObject({ status: 200, body: { state: 'applied', appliedVersion: 2 } })
    expect((await h.api<{ activeVersion: number }>('GET', '/v1/config')).body.activeVersion).toBe(2)

    const billing = (await h.api<KeyView>('GET', '/v1/keys/billing-hmac')).body
    expect(billing.versions.map((v) => [v.version, v.state])).toEqual([[1, 'active']])
    await startService(h, 'billing-hmac', billingDep)
    const billingRun = await h.api<RunView>('POST', '/v1/keys/billing-hmac/rotations', { reason: 'test' })
    expect((await waitForRun<RunView>(h, billingRun.body.id)).state).toBe('succeeded')

    // nothing listens at the old probe URL: the rotation only succeeds through the new one
    await startService(h, 'payments-dek', newDep)
    const run = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', { reason: 'test' })
    expect(await waitForRun<RunView>(h, run.body.id)).toMatchObject({ state: 'succeeded', toVersion: 2 })

    const versions = (await h.api<ConfigVersionView[]>('GET', '/v1/config/versions')).body
    expect(versions.map((v) => [v.version, v.active])).toEqual([
      [1, false],
      [2, true],
    ])
    expect(versions[1]).toMatchObject({
      proposalId: p.id,
      proposedBy: 'admin',
      approvedBy: 'sam',
      appliedBy: 'admin',
      ...change,
    })
    const audit = (await h.api<{ action: string; target: string }[]>('GET', '/v1/audit')).body
    const trail = audit.filter((a) => a.action.startsWith('config.')).map((a) => a.action)
    expect(trail).toEqual(['config.bootstrapped', 'config.proposed', 'config.approved', 'config.applied'])
  }, 60_000)

  it('rolls back by proposing version 1 again, and a restart with another --config changes nothing', async () => {
    const dep = await planDependent('payments-api')
    const v1 = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [dep] })}`
    const { h, tokens } = await setup([dep], v1)
    const v2 = v1.replace('owner: test-team', 'owner: platform-team')
    const first = await h.api<ConfigProposalView>('POST', '/v1/config/proposals', { yaml: v2, ...change })
    await h.api('POST', `/v1/config/proposals/${first.body.id}/approve`, {}, tokens.bob)
    expect((await h.api('POST', `/v1/config/proposals/${first.body.id}/apply`)).status).toBe(200)
    expect((await h.api<KeyView>('GET', '/v1/keys/payments-dek')).body.owner).toBe('platform-team')

    const back = await h.api<ConfigProposalView>('POST', '/v1/config/proposals', {
      fromVersion: 1,
      summary: 'roll back the owner change',
      rollbackPlan: 'propose version 2 again',
    })
    expect(back.status).toBe(201)
    expect(back.body.diff).toContain('+    owner: test-team')
    await h.api('POST', `/v1/config/proposals/${back.body.id}/approve`, {}, tokens.sam)
    expect((await h.api('POST', `/v1/config/proposals/${back.body.id}/apply`)).body).toMatchObject({
      appliedVersion: 3,
    })
    const [one, three] = await Promise.all(
      [1, 3].map(
        async (n) =>
          (await h.api<ConfigVersionView & { yaml: string }>('GET', `/v1/config/versions/${n}`)).body,
      ),
    )
    expect(three?.yaml).toBe(one?.yaml)
    expect(three?.hash).toBe(one?.hash)
    expect((await h.api<KeyView>('GET', '/v1/keys/payments-dek')).body.owner).toBe('test-team')

    // a server restarted with a different file only reports it, against the active version 3
    const other = join(h.dataDir, 'other.yaml')
    writeFileSync(other, v2)
    await h.restart({
      configPath: other,
      port: Number(new URL(h.url).port),
      logLevel: 'silent',
      secretOf: (name) => secretsOf([dep])[name],
    })
    expect(h.keyrotor.config).toMatchObject({ status: 'differs', version: 3 })
    const active = (await h.api<{ activeVersion: number; file: { status: string } }>('GET', '/v1/config'))
      .body
    expect(active).toMatchObject({ activeVersion: 3, file: { status: 'differs' } })
    expect((await h.api<KeyView>('GET', '/v1/keys/payments-dek')).body.owner).toBe('test-team')
  }, 60_000)

  it('refuses to apply while a run is in progress on a key the change touches, naming it', async () => {
    const dep = await planDependent('slow-api')
    const stubborn = await stubbornDependent(dep, 'payments-dek')
    cleanups.push(() => new Promise<void>((resolve) => stubborn.close(() => resolve())))
    const v1 = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [dep], policy: '{ gracePeriod: 1h, phaseTimeout: 8s }' })}`
    const { h, tokens } = await setup([dep], v1)
    const run = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', { reason: 'test' })
    expect(run.status).toBe(201)

    const v2 = v1.replace('owner: test-team', 'owner: platform-team')
    const p = (await h.api<ConfigProposalView>('POST', '/v1/config/proposals', { yaml: v2, ...change })).body
    await h.api('POST', `/v1/config/proposals/${p.id}/approve`, {}, tokens.sam)
    const refused = await h.api<Problem>('POST', `/v1/config/proposals/${p.id}/apply`)
    expect(refused).toMatchObject({ status: 409, body: { code: 'CONFLICT' } })
    expect(refused.body.detail).toContain(`payments-dek (run ${run.body.id}`)
    expect((await h.api<{ activeVersion: number }>('GET', '/v1/config')).body.activeVersion).toBe(1)
    expect((await h.api<ConfigProposalView>('GET', `/v1/config/proposals/${p.id}`)).body.state).toBe(
      'approved',
    )
  }, 60_000)

  it('refuses a proposal that drops a managed key, saying a key leaves only by decommission', async () => {
    const dep = await planDependent('payments-api')
    const v1 = `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [dep] })}`
    const { h } = await setup([dep], v1)
    const refused = await h.api<Problem>('POST', '/v1/config/proposals', { yaml: 'keys: []\n', ...change })
    expect(refused).toMatchObject({ status: 400, body: { code: 'BAD_REQUEST' } })
    expect(refused.body.detail).toContain('payments-dek')
    expect(refused.body.detail).toContain('decommission')
  })
})

/** A dependent that answers probes but never loads a new version: a rotation waits in distribute. */
async function stubbornDependent(dep: PlannedDependent, key: string): Promise<Server> {
  const server = createServer((request, response) => {
    request.resume()
    response.setHeader('content-type', 'application/json')
    response.end(request.method === 'GET' ? JSON.stringify({ key, accepts: [1], active: 1 }) : '{}')
  })
  await new Promise<void>((resolve) => server.listen(dep.port, '127.0.0.1', resolve))
  return server
}
