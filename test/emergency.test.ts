import { afterEach, describe, expect, it } from 'vitest'
import { startJwtIssuer, startJwtVerifier } from '../src/demo/sample-services.js'
import type { KeyView, RunView } from '../src/engine/views.js'
import { pendingApprovalOf, requestEmergency } from './helpers/flows.js'
import { startHarness, waitForRun } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

describe.each(DIALECTS)('emergency rotation on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup() {
    const issuerDep = await planDependent('auth-issuer')
    const verifierDep = await planDependent('api-gateway')
    const config = `keys:${keyYaml({ id: 'auth-signing', algorithm: 'ec-p256', dependents: [issuerDep, verifierDep], policy: '{ gracePeriod: 30d, phaseTimeout: 5s }' })}`
    const h = await startHarness(dialect, config, { secrets: secretsOf([issuerDep, verifierDep]) })
    cleanups.push(() => h.stop())
    const consumer = (
      await h.api<{ token: string }>('POST', '/v1/tokens', {
        user: 'auth-issuer',
        role: 'consumer',
        key: 'auth-signing',
      })
    ).body.token
    const issuer = await startJwtIssuer({
      key: 'auth-signing',
      keyrotorUrl: h.url,
      token: consumer,
      secret: issuerDep.secret,
      port: issuerDep.port,
      name: 'auth-issuer',
    })
    const verifier = await startJwtVerifier({
      key: 'auth-signing',
      keyrotorUrl: h.url,
      secret: verifierDep.secret,
      port: verifierDep.port,
      name: 'api-gateway',
    })
    cleanups.push(
      () => issuer.close(),
      () => verifier.close(),
    )
    const person = async (user: string, role: string) =>
      (await h.api<{ token: string }>('POST', '/v1/tokens', { user, role })).body.token
    return {
      h,
      issuer,
      verifier,
      samA: await person('sam', 'security'),
      sue: await person('sue', 'security'),
      olga: await person('olga', 'operator'),
    }
  }

  it('needs a reason and a second security person, then moves every dependent off the compromised version and revokes it at once', async () => {
    const { h, issuer, verifier, samA, sue, olga } = await setup()
    const before = await issuer.issue({ sub: 'before' })
    expect(
      (await h.api<{ code: string }>('POST', '/v1/keys/auth-signing/rotations', { emergency: true }, samA))
        .status,
    ).toBe(400)

    const requested = await requestEmergency(
      h.api,
      'auth-signing',
      'private key found in a public repository',
      samA,
    )
    expect(requested.status).toBe(201)
    expect(requested.body).toMatchObject({
      kind: 'emergency-rotate',
      state: 'awaiting_approval',
      priority: 0,
    })
    const approval = await pendingApprovalOf(h.api, requested.body.id)
    expect(approval.requiredRoles).toEqual(['security'])
    expect(
      (await h.api<{ code: string }>('POST', `/v1/approvals/${approval.id}/approve`, {}, samA)).body.code,
    ).toBe('SELF_APPROVAL')
    expect((await h.api('POST', `/v1/approvals/${approval.id}/approve`, {}, olga)).status).toBe(403)
    expect((await h.api('POST', `/v1/approvals/${approval.id}/approve`, {}, sue)).status).toBe(200)

    const run = await waitForRun<RunView>(h, requested.body.id)
    expect(run).toMatchObject({ state: 'succeeded', fromVersion: 1, toVersion: 2 })
    expect(run.validation?.passed).toBe(true)
    const events = (
      await h.api<{ events: { type: string; message: string }[] }>('GET', `/v1/runs/${run.id}/events`)
    ).body.events
    const notices = events.filter((e) => e.type === 'notice.delivered').map((e) => e.message.split(' ')[0])
    expect(notices.indexOf('key.compromised')).toBeGreaterThanOrEqual(0)
    expect(notices.indexOf('key.compromised')).toBeLessThan(notices.indexOf('key.version.staged'))
    // the default jwksMaxAge (300s) would hold an ordinary promote for 5 minutes: an emergency says it skips that
    expect(events.filter((e) => e.type === 'run.waiting')).toEqual([])
    expect(events.find((e) => e.type === 'jwks.wait.skipped')?.message).toMatch(
      /^emergency: promotes v2 without waiting policy\.jwksMaxAge \(300s\)/,
    )

    // no grace period: the revoke follows as soon as the dependents let go of v1
    const until = Date.now() + 20_000
    let key = (await h.api<KeyView>('GET', '/v1/keys/auth-signing')).body
    while (key.versions[0]?.state !== 'disabled' && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      key = (await h.api<KeyView>('GET', '/v1/keys/auth-signing')).body
    }
    expect(key.versions.map((v) => [v.version, v.state, v.compromised])).toEqual([
      [1, 'disabled', true],
      [2, 'active', false],
    ])
    expect(verifier.probeAnswer().accepts).toEqual([2])
    await expect(verifier.verify(before)).rejects.toThrow()
    await verifier.verify(await issuer.issue({ sub: 'after' }))

    const incidents = (await h.api<{ runId: string; title: string }[]>('GET', '/v1/incidents')).body
    expect(incidents).toContainEqual(
      expect.objectContaining({ runId: run.id, title: 'Emergency rotation of auth-signing' }),
    )
  })

  it('ends a rejected emergency with nothing changed', async () => {
    const { h, samA, sue } = await setup()
    const requested = await requestEmergency(h.api, 'auth-signing', 'suspicious access', samA)
    const approval = await pendingApprovalOf(h.api, requested.body.id)
    expect(
      (
        await h.api(
          'POST',
          `/v1/approvals/${approval.id}/reject`,
          { reason: 'false alarm: the access was the audit team' },
          sue,
        )
      ).status,
    ).toBe(200)
    const run = (await h.api<RunView>('GET', `/v1/runs/${requested.body.id}`)).body
    expect(run.state).toBe('rejected')
    const key = (await h.api<KeyView>('GET', '/v1/keys/auth-signing')).body
    expect(key.versions.map((v) => [v.version, v.state, v.compromised])).toEqual([[1, 'active', false]])
    // the key is free again
    expect((await h.api('POST', '/v1/keys/auth-signing/rotations', {})).status).toBe(201)
  })
})
