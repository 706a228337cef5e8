import { afterEach, describe, expect, it } from 'vitest'
import { decodeProtectedHeader } from 'jose'
import { startDataKeyService, startJwtIssuer, startJwtVerifier } from '../src/demo/sample-services.js'
import { createDependent } from '../src/dependent-sdk/index.js'
import type { Dependent } from '../src/dependent-sdk/index.js'
import type { DependentTarget, Notice, NoticeEvent } from '../src/dependents/dependent-client.js'
import { deliverUntil } from '../src/dependents/delivery.js'
import { createDependentClient, noticeBody } from '../src/dependents/http-dependent-client.js'
import { signedHeaders } from '../src/dependents/signature.js'
import { startFakeKeyrotor } from './fakes/fake-keyrotor.js'
import type { FakeAlgorithm, FakeKeyrotor } from './fakes/fake-keyrotor.js'

const SECRET = 'whsec-svc'
const TOKEN = 'kr_consumer_token'
const cleanup: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close()
})

/** The real server-side client delivers the notices, so both ends of the protocol meet here. */
const client = createDependentClient({ secretOf: (name) => (name === 'SVC_SECRET' ? SECRET : undefined) })

async function fake(key: string, algorithm: FakeAlgorithm): Promise<FakeKeyrotor> {
  const keyrotor = await startFakeKeyrotor({ key, token: TOKEN, algorithm })
  cleanup.push(() => keyrotor.close())
  keyrotor.addVersion()
  return keyrotor
}

function targetOf(name: string, key: string, urls: { probeUrl: string; notifyUrl: string }): DependentTarget {
  return {
    name,
    key,
    probe: { http: urls.probeUrl },
    notify: { http: urls.notifyUrl, secretEnv: 'SVC_SECRET' },
    critical: true,
  }
}

function sender(target: DependentTarget) {
  return (event: NoticeEvent, version: number): Promise<void> => {
    const notice: Notice = {
      event,
      key: target.key,
      version,
      runId: 'run-1',
      correlationId: 'corr-1',
      deadline: '2030-01-01T00:00:00Z',
    }
    return client.notify(target, notice)
  }
}

async function embedded(
  key: string,
  keyrotor: FakeKeyrotor,
): Promise<{ dependent: Dependent; target: DependentTarget }> {
  const dependent = createDependent({
    key,
    role: 'encrypt',
    secret: SECRET,
    keyrotorUrl: keyrotor.url,
    token: TOKEN,
  })
  await dependent.bootstrap(1)
  const urls = await dependent.listen()
  cleanup.push(() => dependent.close())
  return { dependent, target: targetOf('svc', key, urls) }
}

describe('dependent SDK', () => {
  it('answers 401 to a badly signed notice and changes nothing', async () => {
    const keyrotor = await fake('dek', 'aes-256-gcm')
    keyrotor.addVersion()
    const { dependent, target } = await embedded('dek', keyrotor)
    const body = noticeBody({
      event: 'key.version.staged',
      key: 'dek',
      version: 2,
      runId: 'r',
      correlationId: 'c',
      deadline: 'd',
    })
    const post = (headers: Record<string, string>, payload = body) =>
      fetch(target.notify!.http, { method: 'POST', headers, body: payload }).then((r) => r.status)
    expect(await post(signedHeaders('wrong-secret', body))).toBe(401)
    expect(await post(signedHeaders(SECRET, body), body.replace('"version":2', '"version":3'))).toBe(401)
    expect(await post(signedHeaders(SECRET, body, Date.now() - 600_000))).toBe(401)
    expect(await post({})).toBe(401)
    expect(dependent.probeAnswer()).toEqual({ key: 'dek', accepts: [1], active: 1 })
    expect(keyrotor.requests.filter((r) => r.includes('/versions/2/'))).toEqual([])
  })

  it('answers 401 to a replayed notice and changes nothing', async () => {
    const keyrotor = await fake('dek', 'aes-256-gcm')
    keyrotor.addVersion()
    const { dependent, target } = await embedded('dek', keyrotor)
    const send = async (event: NoticeEvent, version: number, headers?: Record<string, string>) => {
      const body = noticeBody({ event, key: 'dek', version, runId: 'r', correlationId: 'c', deadline: 'd' })
      const signed = headers ?? signedHeaders(SECRET, body)
      const status = (await fetch(target.notify!.http, { method: 'POST', headers: signed, body })).status
      return { status, signed }
    }
    const staged = await send('key.version.staged', 2)
    expect(staged.status).toBe(200)
    await send('key.version.promoted', 2)
    expect((await send('key.version.retired', 1)).status).toBe(200)
    // a captured notice sent again, within its 5 minutes, is refused like a forged one
    expect((await send('key.version.staged', 2, staged.signed)).status).toBe(401)
    expect(dependent.probeAnswer()).toEqual({ key: 'dek', accepts: [2], active: 2 })
  })

  it('fetches staged material with the consumer token before it accepts the version', async () => {
    const keyrotor = await fake('dek', 'aes-256-gcm')
    const { dependent, target } = await embedded('dek', keyrotor)
    const v2 = keyrotor.addVersion()
    await sender(target)('key.version.staged', v2)
    expect(keyrotor.requests).toContain(`GET /v1/keys/dek/versions/2/material Bearer ${TOKEN}`)
    await expect(client.probe(target)).resolves.toEqual({ key: 'dek', accepts: [1, 2], active: 1 })
    expect(dependent.materialFor(2)?.kid).toBe('dek.v2')
  })

  it('refuses a staged notice while material cannot be fetched, then applies its retry', async () => {
    const keyrotor = await fake('dek', 'aes-256-gcm')
    const { dependent, target } = await embedded('dek', keyrotor)
    keyrotor.addVersion()
    keyrotor.failNext(1)
    await expect(sender(target)('key.version.staged', 2)).rejects.toThrow(
      /HTTP 503.*material answered HTTP 503/,
    )
    expect(dependent.probeAnswer().accepts).toEqual([1])
    keyrotor.failNext(2)
    const notice: Notice = {
      event: 'key.version.staged',
      key: 'dek',
      version: 2,
      runId: 'r',
      correlationId: 'c',
      deadline: 'd',
    }
    await deliverUntil(client, target, notice, { deadline: new Date(Date.now() + 5000), minDelayMs: 10 })
    expect(dependent.probeAnswer().accepts).toEqual([1, 2])
  })

  it('uses a promoted version and stops accepting a retired one', async () => {
    const keyrotor = await fake('dek', 'aes-256-gcm')
    const { dependent, target } = await embedded('dek', keyrotor)
    const send = sender(target)
    keyrotor.addVersion()
    await send('key.version.staged', 2)
    await send('key.version.promoted', 2)
    expect(dependent.activeMaterial().version).toBe(2)
    await send('key.version.retired', 1)
    await expect(client.probe(target)).resolves.toEqual({ key: 'dek', accepts: [2], active: 2 })
    expect(dependent.materialFor(1)).toBeUndefined()
  })

  it('runs onRevoked over HTTP for a version keyrotor retired and then revoked, and reads its providerRef', async () => {
    const keyrotor = await fake('dek', 'aes-256-gcm')
    const revoked: number[] = []
    const dependent = createDependent({
      key: 'dek',
      role: 'encrypt',
      secret: SECRET,
      keyrotorUrl: keyrotor.url,
      token: TOKEN,
      onRevoked: (v) => void revoked.push(v),
    })
    await dependent.bootstrap(1)
    const target = targetOf('svc', 'dek', await dependent.listen())
    cleanup.push(() => dependent.close())
    keyrotor.addVersion()
    const send = (event: NoticeEvent, version: number) =>
      client.notify(target, {
        event,
        key: 'dek',
        version,
        runId: 'run-1',
        correlationId: 'corr-1',
        deadline: '2030-01-01T00:00:00Z',
        providerRef: `local:dek.v${version}`,
      })
    await send('key.version.staged', 2)
    await send('key.version.promoted', 2)
    await send('key.version.retired', 1)
    await send('key.version.revoked', 1)
    expect(revoked).toEqual([1])
    expect(dependent.providerRef(2)).toBe('local:dek.v2')
  })

  it('says plainly that the port is busy instead of throwing a stack trace', async () => {
    const keyrotor = await fake('dek', 'aes-256-gcm')
    const { target } = await embedded('dek', keyrotor)
    const port = Number(new URL((target.probe as { http: string }).http).port)
    const second = createDependent({ key: 'dek', role: 'decrypt', keyrotorUrl: keyrotor.url, token: TOKEN })
    await expect(second.listen(port)).rejects.toMatchObject({
      code: 'LISTEN_FAILED',
      message: expect.stringMatching(new RegExp(`port ${port} is already in use on 127\\.0\\.0\\.1`)),
    })
  })

  it('refuses a notice for another key with 422', async () => {
    const keyrotor = await fake('dek', 'aes-256-gcm')
    const { target } = await embedded('dek', keyrotor)
    await expect(sender({ ...target, key: 'other' })('key.version.staged', 2)).rejects.toThrow(
      /HTTP 422.*uses key dek/,
    )
  })

  it('refuses to start an encrypting service without its active version', async () => {
    const keyrotor = await fake('dek', 'aes-256-gcm')
    const dependent = createDependent({
      key: 'dek',
      role: 'encrypt',
      keyrotorUrl: keyrotor.url,
      token: TOKEN,
    })
    await expect(dependent.bootstrap()).rejects.toMatchObject({ code: 'NOT_LOADED' })
    const { url } = keyrotor
    expect(() =>
      createDependent({ key: 'dek', role: 'sign', keyrotorUrl: url, materialSource: 'jwks' }),
    ).toThrow(/JWKS/)
    expect(() => createDependent({ key: 'dek', role: 'decrypt', keyrotorUrl: url })).toThrow(/consumer token/)
  })
})

describe('sample services', () => {
  it('JWT tokens verify across a rotation, and old ones stop verifying once v1 is retired', async () => {
    const keyrotor = await fake('jwt', 'ec-p256')
    const common = { key: 'jwt', keyrotorUrl: keyrotor.url, secret: SECRET }
    const issuer = await startJwtIssuer({ ...common, token: TOKEN })
    const verifier = await startJwtVerifier(common)
    cleanup.push(
      () => issuer.close(),
      () => verifier.close(),
    )
    const toIssuer = sender(targetOf(issuer.name, 'jwt', issuer))
    const toVerifier = sender(targetOf(verifier.name, 'jwt', verifier))

    const old = await issuer.issue({ sub: 'alice' })
    expect(decodeProtectedHeader(old).kid).toBe('jwt.v1')
    await expect(verifier.verify(old)).resolves.toMatchObject({ sub: 'alice' })

    keyrotor.addVersion()
    for (const send of [toVerifier, toIssuer]) await send('key.version.staged', 2)
    for (const send of [toVerifier, toIssuer]) await send('key.version.promoted', 2)
    expect(verifier.probeAnswer()).toEqual({ key: 'jwt', accepts: [1, 2], active: null })
    expect(issuer.probeAnswer()).toEqual({ key: 'jwt', accepts: [1, 2], active: 2 })
    const fresh = await issuer.issue({ sub: 'bob' })
    expect(decodeProtectedHeader(fresh).kid).toBe('jwt.v2')
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ sub: 'bob' })
    await expect(verifier.verify(old)).resolves.toMatchObject({ sub: 'alice' })

    keyrotor.unpublish(1)
    for (const send of [toVerifier, toIssuer]) await send('key.version.retired', 1)
    await expect(verifier.verify(old)).rejects.toThrow('kid jwt.v1 is not accepted here')
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ sub: 'bob' })
  })

  it('a data-key service reads old records after a rotation and re-wraps them before v1 is retired', async () => {
    const keyrotor = await fake('dek', 'aes-256-gcm')
    const service = await startDataKeyService({
      key: 'dek',
      keyrotorUrl: keyrotor.url,
      token: TOKEN,
      secret: SECRET,
    })
    cleanup.push(() => service.close())
    const send = sender(targetOf(service.name, 'dek', service))
    const old = service.encrypt('card 4242')
    expect(old.version).toBe(1)

    keyrotor.addVersion()
    await send('key.version.staged', 2)
    await send('key.version.promoted', 2)
    const fresh = service.encrypt('card 4343')
    expect(fresh.version).toBe(2)
    expect(service.decrypt(old)).toBe('card 4242')
    const rewrapped = service.rewrap(old)
    expect(rewrapped.version).toBe(2)

    await send('key.version.retired', 1)
    expect(() => service.decrypt(old)).toThrow('version 1 of dek is not accepted here')
    expect(service.decrypt(rewrapped)).toBe('card 4242')
    expect(() => service.decrypt({ ...fresh, version: 1 })).toThrow()
  })
})
