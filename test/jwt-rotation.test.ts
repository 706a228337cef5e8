import { afterEach, describe, expect, it } from 'vitest'
import {
  startJwtIssuer,
  startJwtVerifier,
  type JwtIssuer,
  type JwtVerifier,
} from '../src/demo/sample-services.js'
import type { KeyView, RunView } from '../src/engine/views.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

/**
 * The issue's acceptance test: a JWT issuer and a verifier built on jose, acting as dependents,
 * keep verifying every token through two rotations and the revokes that follow them.
 */
describe.each(DIALECTS)('JWT issuer and verifier through two rotations and a revoke on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('never fails a verification, and the revoked versions stop verifying only after the verifier let go', async () => {
    const issuerDep = await planDependent('auth-issuer')
    const verifierDep = await planDependent('api-gateway')
    const h = await startHarness(
      dialect,
      `keys:${keyYaml({ id: 'auth-signing', algorithm: 'ec-p256', dependents: [issuerDep, verifierDep], policy: '{ gracePeriod: 6s, phaseTimeout: 5s, jwksMaxAge: 1s }' })}`,
      { secrets: secretsOf([issuerDep, verifierDep]) },
    )
    cleanups.push(() => h.stop())
    const token = (
      await h.api<{ token: string }>('POST', '/v1/tokens', {
        user: 'auth-issuer',
        role: 'consumer',
        key: 'auth-signing',
      })
    ).body.token
    const issuer = await startJwtIssuer({
      key: 'auth-signing',
      keyrotorUrl: h.url,
      token,
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

    const traffic = startTraffic(issuer, verifier)
    const kept: Record<string, string> = { v1: await issuer.issue({ sub: 'v1-user' }) }
    for (const expected of [2, 3]) {
      const run = await rotate(h)
      expect(run).toMatchObject({ state: 'succeeded', toVersion: expected })
      kept[`v${expected}`] = await issuer.issue({ sub: `v${expected}-user` })
      for (const jwt of Object.values(kept)) await verifier.verify(jwt)
    }
    const { kids, failures } = await traffic.stop('auth-signing.v3')
    expect(failures).toEqual([])
    // the traffic ran on every version: before, between and after the rotations
    expect([...kids].sort()).toEqual(['auth-signing.v1', 'auth-signing.v2', 'auth-signing.v3'])

    // the follow-up revokes run after the 6 s grace period (longer than a rotation with its 1 s JWKS
    // wait, so every kept token still verifies after the second rotation), once the verifier let go
    const revokes = await waitForRevokes(h, 2)
    expect(revokes.map((r) => [r.fromVersion, r.state])).toEqual([
      [1, 'succeeded'],
      [2, 'succeeded'],
    ])
    const key = (await h.api<KeyView>('GET', '/v1/keys/auth-signing')).body
    expect(key.versions.map((v) => [v.version, v.state])).toEqual([
      [1, 'disabled'],
      [2, 'disabled'],
      [3, 'active'],
    ])
    const jwks = (await h.api<{ keys: { kid: string }[] }>('GET', '/v1/keys/auth-signing/jwks.json')).body
    expect(jwks.keys.map((k) => k.kid)).toEqual(['auth-signing.v3'])
    await verifier.verify(kept.v3 as string)
    await expect(verifier.verify(kept.v1 as string)).rejects.toThrow(/not accepted/)
    await expect(verifier.verify(kept.v2 as string)).rejects.toThrow(/not accepted/)
  })
})

async function rotate(h: Harness): Promise<RunView> {
  const created = await h.api<RunView>('POST', '/v1/keys/auth-signing/rotations', {})
  expect(created.status).toBe(201)
  return waitForRun<RunView>(h, created.body.id)
}

async function waitForRevokes(h: Harness, count: number): Promise<RunView[]> {
  const until = Date.now() + 30_000
  for (;;) {
    const runs = (await h.api<RunView[]>('GET', '/v1/runs?key=auth-signing')).body
    const revokes = runs.filter((r) => r.kind === 'revoke').reverse()
    if (revokes.length >= count && revokes.every((r) => r.state === 'succeeded' || r.state === 'failed'))
      return revokes
    if (Date.now() > until) throw new Error(`revokes did not finish: ${JSON.stringify(revokes)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** Issues and verifies tokens back to back, and re-verifies the previous one, until stopped. */
function startTraffic(issuer: JwtIssuer, verifier: JwtVerifier) {
  const failures: string[] = []
  const kids = new Set<string>()
  let checked = 0
  let stopAfterKid: string | undefined
  const loop = (async () => {
    let previous: string | undefined
    while (stopAfterKid === undefined || !kids.has(stopAfterKid)) {
      const jwt = await issuer.issue({ sub: `traffic-${checked}` })
      kids.add(kidOf(jwt))
      for (const candidate of previous === undefined ? [jwt] : [jwt, previous]) {
        try {
          await verifier.verify(candidate)
        } catch (error) {
          failures.push(String(error))
        }
      }
      previous = jwt
      checked++
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })()
  return {
    /** Stops once a token of `lastKid` has been issued and verified. */
    async stop(lastKid: string) {
      stopAfterKid = lastKid
      await loop
      return { kids, failures }
    },
  }
}

function kidOf(jwt: string): string {
  const header = JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
    kid: string
  }
  return header.kid
}
