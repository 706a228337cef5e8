import { createPublicKey } from 'node:crypto'
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose'
import jwksClient from 'jwks-rsa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startJwtIssuer, type JwtIssuer } from '../src/demo/sample-services.js'
import type { RunView } from '../src/engine/views.js'
import { startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { startLineProcess, type LineProcess } from './helpers/line-process.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'

interface RunEvent {
  type: string
  phase: string | null
  message: string
  at: string
}

const eventsOf = async (h: Harness, runId: string) =>
  (await h.api<{ events: RunEvent[] }>('GET', `/v1/runs/${runId}/events`)).body.events

async function startSigningKey(dialect: (typeof DIALECTS)[number], jwksMaxAge: string) {
  const issuerDep = await planDependent('jwt-issuer')
  const policy = `{ gracePeriod: 1s, phaseTimeout: 60s, jwksMaxAge: ${jwksMaxAge} }`
  const h = await startHarness(
    dialect,
    `keys:${keyYaml({ id: 'auth-signing', algorithm: 'ec-p256', dependents: [issuerDep], policy })}`,
    { secrets: secretsOf([issuerDep]) },
  )
  const { token } = (
    await h.api<{ token: string }>('POST', '/v1/tokens', {
      user: 'jwt-issuer',
      role: 'consumer',
      key: 'auth-signing',
    })
  ).body
  const issuer = await startJwtIssuer({
    key: 'auth-signing',
    keyrotorUrl: h.url,
    token,
    secret: issuerDep.secret,
    port: issuerDep.port,
    name: 'jwt-issuer',
  })
  return { h, issuer, jwksUrl: `${h.url}/v1/keys/auth-signing/jwks.json` }
}

describe.each(DIALECTS)('the JWKS for external caches on %s', (dialect) => {
  let h: Harness
  let issuer: JwtIssuer
  let jwksUrl: string
  beforeAll(async () => {
    ;({ h, issuer, jwksUrl } = await startSigningKey(dialect, '2s'))
  })
  afterAll(async () => {
    await issuer?.close()
    await h?.stop()
  })

  it('sends Cache-Control with policy.jwksMaxAge and an ETag, and answers 304 to If-None-Match', async () => {
    const first = await fetch(jwksUrl)
    expect(first.status).toBe(200)
    expect(first.headers.get('cache-control')).toBe('public, max-age=2')
    const etag = first.headers.get('etag') ?? ''
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/)
    expect(((await first.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toEqual([
      'auth-signing.v1',
    ])
    const again = await fetch(jwksUrl, { headers: { 'if-none-match': `W/"other", ${etag}` } })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    const other = await fetch(jwksUrl, { headers: { 'if-none-match': '"not-this-one"' } })
    expect(other.status).toBe(200)
    expect((await fetch(`${h.url}/v1/keys/no-such-key/jwks.json`)).status).toBe(404)
  })

  it('promotes only once the new version has been published for jwksMaxAge, and journals the wait', async () => {
    const created = await h.api<RunView>('POST', '/v1/keys/auth-signing/rotations', {})
    const run = await waitForRun<RunView>(h, created.body.id, 60_000)
    expect(run).toMatchObject({ state: 'succeeded', toVersion: 2 })
    const events = await eventsOf(h, run.id)
    const wait = events.find((e) => e.type === 'run.waiting')
    expect(wait?.message).toMatch(/waits before promote: v2 is in the JWKS since .*policy\.jwksMaxAge \(2s\)/)
    const createdAt = Date.parse(events.find((e) => e.phase === 'create' && e.type === 'phase.started')!.at)
    const promoted = Date.parse(events.find((e) => e.phase === 'promote' && e.type === 'phase.started')!.at)
    expect(promoted - createdAt).toBeGreaterThanOrEqual(2_000)
    // the new document has a new ETag: a cache holding the old one gets the new body
    const response = await fetch(jwksUrl)
    const kids = ((await response.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)
    expect(kids).toContain('auth-signing.v2')
  })
})

// jose's createRemoteJWKSet refetches on an unknown kid at most every 30 s (its default
// cooldownDuration): 30 s is the smallest jwksMaxAge that protects it, so this suite uses that
// with clients at their defaults. One dialect: the store-facing parts are covered above on both.
describe('three JWKS clients at their defaults against a rotating key', () => {
  let h: Harness
  let issuer: JwtIssuer
  let python: LineProcess
  beforeAll(async () => {
    let jwksUrl: string
    ;({ h, issuer, jwksUrl } = await startSigningKey('sqlite', '30s'))
    python = startLineProcess('/usr/bin/python3', ['test/python/pyjwt_verifier.py', jwksUrl])
  })
  afterAll(async () => {
    await python?.stop()
    await issuer?.close()
    await h?.stop()
  })

  it('verifies every token of a continuous signer through two rotations and the revokes', async () => {
    const jwksUrl = `${h.url}/v1/keys/auth-signing/jwks.json`
    const joseKeys = createRemoteJWKSet(new URL(jwksUrl))
    const rsaClient = jwksClient({ jwksUri: jwksUrl })
    const failures: string[] = []
    const kids = new Set<string>()
    let signed = 0
    let running = true
    const verifyAll = async (token: string) => {
      const kid = decodeProtectedHeader(token).kid ?? ''
      kids.add(kid)
      await jwtVerify(token, joseKeys).catch((e: Error) => failures.push(`jose ${kid}: ${e.message}`))
      await rsaClient
        .getSigningKey(kid)
        .then((key) => jwtVerify(token, createPublicKey(key.getPublicKey())))
        .catch((e: Error) => failures.push(`jwks-rsa ${kid}: ${e.message}`))
      const answer = await python.ask(token)
      if (!answer.startsWith('ok')) failures.push(`PyJWT ${kid}: ${answer}`)
    }
    const signer = (async () => {
      while (running) {
        await verifyAll(await issuer.issue({ sub: `t${signed++}` }))
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    })()
    for (const expected of [2, 3]) {
      const created = await h.api<RunView>('POST', '/v1/keys/auth-signing/rotations', {})
      const run = await waitForRun<RunView>(h, created.body.id, 120_000)
      expect(run).toMatchObject({ state: 'succeeded', toVersion: expected })
    }
    await until(async () => {
      const { body } = await h.api<RunView[]>('GET', '/v1/runs?key=auth-signing')
      return body.filter((r) => r.kind === 'revoke' && r.state === 'succeeded').length === 2
    }, 60_000)
    running = false
    await signer
    expect(failures).toEqual([])
    expect([...kids].sort()).toEqual(['auth-signing.v1', 'auth-signing.v2', 'auth-signing.v3'])
    expect(signed).toBeGreaterThan(100)
  }, 240_000)
})

async function until(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
