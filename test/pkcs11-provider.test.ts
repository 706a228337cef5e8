import pkcs11js from 'pkcs11js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALGORITHMS, isAsymmetric, type Algorithm } from '../src/domain/algorithms.js'
import { KeyrotorError } from '../src/errors.js'
import type { ProviderKeyRef } from '../src/providers/key-provider.js'
import { supportedAlgorithms, TOKEN_ALGORITHMS } from '../src/providers/pkcs11/key-templates.js'
import { createPkcs11Provider, type Pkcs11Provider } from '../src/providers/pkcs11/pkcs11-provider.js'
import type { Pkcs11Settings } from '../src/config/provider-settings.js'
import {
  createSofthsm,
  listObjectsWithPkcs11Tool,
  SOFTHSM_MODULE,
  softhsmAvailable,
  type Softhsm,
} from './helpers/softhsm.js'

const TOKEN = { label: 'keyrotor', pin: 'user-pin-4711', soPin: 'so-pin-0815' }
const OTHER = { label: 'other', pin: 'other-pin-1234', soPin: 'so-pin-5678' }
const settings: Pkcs11Settings = {
  type: 'pkcs11',
  module: SOFTHSM_MODULE,
  tokenLabel: TOKEN.label,
  pinEnv: 'HSM_PIN',
}
const env = { HSM_PIN: TOKEN.pin }

async function codeOf(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; problem: unknown }> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(KeyrotorError)
    const e = error as KeyrotorError
    return { code: e.code, message: e.message, problem: e.details?.problem }
  }
  throw new Error('expected a KeyrotorError')
}

describe('supportedAlgorithms', () => {
  it('offers only the algorithms whose generation and use mechanisms are both present', () => {
    const aes = TOKEN_ALGORITHMS['aes-256-gcm']
    const ec = TOKEN_ALGORITHMS['ec-p256']
    expect(supportedAlgorithms([aes.generate, aes.use, ec.generate])).toEqual(['aes-256-gcm'])
  })
})

describe.skipIf(!softhsmAvailable())('pkcs11 provider on SoftHSM2', () => {
  let hsm: Softhsm
  let provider: Pkcs11Provider
  const opened: Pkcs11Provider[] = []
  const open = (s: Pkcs11Settings = settings, e: Record<string, string | undefined> = env) => {
    const p = createPkcs11Provider(s, { env: e })
    opened.push(p)
    return p
  }

  beforeAll(() => {
    hsm = createSofthsm([TOKEN, OTHER])
    provider = open()
  })
  afterAll(async () => {
    for (const p of opened) await p.close()
    hsm.dispose()
  })

  describe('instance checks name the problem', () => {
    it('refuses a wrong PIN', async () => {
      const e = await codeOf(
        open({ ...settings, tokenLabel: OTHER.label }, { HSM_PIN: 'not-the-pin' }).check(),
      )
      expect(e).toMatchObject({ code: 'INVALID_CONFIG', problem: 'login_refused' })
      expect(e.message).toMatch(/login to token "other".*CKR_PIN_INCORRECT/)
      expect(e.message).not.toContain('not-the-pin')
    })

    it('refuses a missing PIN variable, naming it', async () => {
      const e = await codeOf(open(settings, {}).check())
      expect(e).toMatchObject({ code: 'INVALID_CONFIG', problem: 'missing_pin' })
      expect(e.message).toContain('HSM_PIN')
    })

    it('refuses a module path that does not load, naming it', async () => {
      const e = await codeOf(open({ ...settings, module: '/nonexistent/libpkcs11.so' }).check())
      expect(e).toMatchObject({ code: 'INVALID_CONFIG', problem: 'module_not_loaded' })
      expect(e.message).toContain('/nonexistent/libpkcs11.so')
    })

    it('refuses a token label no slot holds', async () => {
      const e = await codeOf(open({ ...settings, tokenLabel: 'no-such-token' }).check())
      expect(e).toMatchObject({ code: 'INVALID_CONFIG', problem: 'token_not_found' })
      expect(e.message).toContain('"no-such-token"')
    })

    it('accepts the right PIN, and SoftHSM2 2.6 offers every algorithm of keyrotor', async () => {
      await provider.check([...ALGORITHMS])
      expect(await provider.supportedAlgorithms()).toEqual([...ALGORITHMS])
    })
  })

  describe.each(ALGORITHMS)('%s', (algorithm: Algorithm) => {
    const key: ProviderKeyRef = { keyId: `hsm-${algorithm}`, algorithm }

    it('creates a version once, describes and lists it, and self-tests it inside the token', async () => {
      const created = await provider.createVersion(key, 1)
      expect(created).toMatchObject({
        keyId: key.keyId,
        version: 1,
        state: 'enabled',
        providerRef: `${key.keyId}.v1`,
      })
      expect(await provider.createVersion(key, 1)).toEqual(created)
      expect(await provider.describeVersion(key, 1)).toEqual(created)
      expect(await provider.describeVersion(key, 2)).toBeNull()
      await provider.createVersion(key, 2)
      expect((await provider.listVersions(key)).map((v) => [v.version, v.state])).toEqual([
        [1, 'enabled'],
        [2, 'enabled'],
      ])
      const test = await provider.selfTest(key, 1)
      expect(test).toMatchObject({ passed: true })
      expect(test.detail).toMatch(/in the token/)
    })

    it('reads the public key back from the token as a JWK, or none for a symmetric key', async () => {
      const jwk = await provider.publicJwk(key, 1)
      if (!isAsymmetric(algorithm)) {
        expect(jwk).toBeNull()
        return
      }
      expect(jwk).toMatchObject({ kid: `${key.keyId}.v1`, use: 'sig' })
      expect(jwk).not.toHaveProperty('d')
      // two versions are two key pairs
      expect(await provider.publicJwk(key, 2)).not.toEqual({ ...jwk, kid: `${key.keyId}.v2` })
    })

    it('never hands out the material', async () => {
      expect(await codeOf(provider.exportMaterial(key, 1))).toMatchObject({ code: 'MATERIAL_UNAVAILABLE' })
    })

    it('disables by clearing the usage attributes, enables again, and destroys for good', async () => {
      await provider.setVersionState(key, 2, 'disabled')
      await provider.setVersionState(key, 2, 'disabled')
      expect((await provider.describeVersion(key, 2))?.state).toBe('disabled')
      expect(await provider.selfTest(key, 2)).toMatchObject({ passed: false })
      await provider.setVersionState(key, 2, 'enabled')
      expect(await provider.selfTest(key, 2)).toMatchObject({ passed: true })
      const publicBefore = await provider.publicJwk(key, 2)
      await provider.setVersionState(key, 2, 'destroyed')
      await provider.setVersionState(key, 2, 'destroyed')
      expect((await provider.describeVersion(key, 2))?.state).toBe('destroyed')
      expect(await provider.selfTest(key, 2)).toMatchObject({ passed: false })
      expect(await provider.publicJwk(key, 2)).toEqual(publicBefore)
      expect(await codeOf(provider.setVersionState(key, 2, 'enabled'))).toMatchObject({
        code: 'ILLEGAL_TRANSITION',
      })
      // a create retried after the destroy must not bring new material
      expect((await provider.createVersion(key, 2)).state).toBe('destroyed')
    })
  })

  describe('aliases', () => {
    const key: ProviderKeyRef = { keyId: 'aliased', algorithm: 'aes-256-gcm' }
    const rival: ProviderKeyRef = { keyId: 'rival', algorithm: 'aes-256-gcm' }

    it('points, moves and reads aliases as data objects, refusing what the rules refuse', async () => {
      await provider.createVersion(key, 1)
      await provider.createVersion(key, 2)
      await provider.createVersion(rival, 1)
      expect(await provider.getAlias(key, 'alias/payments')).toBeNull()
      await provider.setAlias(key, 'alias/payments', 1)
      await provider.setAlias(key, 'alias/payments', 1)
      expect(await provider.getAlias(key, 'alias/payments')).toBe(1)
      await provider.setAlias(key, 'alias/payments', 2)
      expect(await provider.getAlias(key, 'alias/payments')).toBe(2)
      expect(await codeOf(provider.setAlias(rival, 'alias/payments', 1))).toMatchObject({ code: 'CONFLICT' })
      expect(await provider.getAlias(rival, 'alias/payments')).toBeNull()
      expect(await codeOf(provider.setAlias(key, 'alias/payments', 9))).toMatchObject({ code: 'NOT_FOUND' })
      await provider.setVersionState(key, 1, 'disabled')
      expect(await codeOf(provider.setAlias(key, 'alias/payments', 1))).toMatchObject({
        code: 'ILLEGAL_TRANSITION',
      })
      expect(await provider.getAlias(key, 'alias/payments')).toBe(2)
    })
  })

  it('ends with one object per version when several instances create it at once', async () => {
    const key: ProviderKeyRef = { keyId: 'raced', algorithm: 'ec-p256' }
    const instances = [open(), open(), open()]
    const results = await Promise.all(
      instances.flatMap((p) => [p.createVersion(key, 1), p.createVersion(key, 1)]),
    )
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1)
    const listing = listObjectsWithPkcs11Tool(hsm, TOKEN)
    expect(listing.split('label:      raced.v1').length - 1).toBe(2) // one private and one public key
    const jwks = await Promise.all(instances.map((p) => p.publicJwk(key, 1)))
    expect(new Set(jwks.map((j) => JSON.stringify(j))).size).toBe(1)
  })

  it('keeps its key objects sensitive, never extractable and to one use, as pkcs11-tool reports them', async () => {
    await provider.createVersion({ keyId: 'proof', algorithm: 'aes-256-gcm' }, 1)
    await provider.createVersion({ keyId: 'proof-mac', algorithm: 'hmac-sha256' }, 1)
    await provider.createVersion({ keyId: 'proof-signing', algorithm: 'ed25519' }, 1)
    const blocks = listObjectsWithPkcs11Tool(hsm, TOKEN).split(/\n(?=\S)/)
    const secretBlock = (label: string) => {
      const block = blocks.find(
        (b) => /^(Secret|Private) Key Object/.test(b) && b.includes(`label:      ${label}\n`),
      )
      expect(block, `pkcs11-tool lists ${label}`).toBeDefined()
      return block as string
    }
    // pkcs11-tool does not print CKA_SIGN of a secret key; the HMAC self-test shows it is set
    const expected = { 'proof.v1': 'encrypt, decrypt', 'proof-mac.v1': 'verify', 'proof-signing.v1': 'sign' }
    for (const [label, usage] of Object.entries(expected)) {
      const block = secretBlock(label)
      expect(block).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local\n?$/)
      expect(block).toContain(`Usage:      ${usage}\n`)
    }
    // every key object keyrotor made, not only these three
    const all = blocks.filter((b) => /^(Secret|Private) Key Object/.test(b))
    expect(all.length).toBeGreaterThanOrEqual(3)
    for (const block of all) expect(block).toMatch(/never extractable/)
  })

  it('finishes a destroy cut short after its tombstone: destroyed always means the material is gone', async () => {
    const key: ProviderKeyRef = { keyId: 'half-destroyed', algorithm: 'rsa-2048' }
    await provider.createVersion(key, 1)
    // what a crash between the tombstone and the destroy leaves: both, side by side
    withRawSession((lib, session) => {
      lib.C_CreateObject(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
        { type: pkcs11js.CKA_TOKEN, value: true },
        { type: pkcs11js.CKA_PRIVATE, value: true },
        { type: pkcs11js.CKA_LABEL, value: 'keyrotor-destroyed:half-destroyed.v1' },
        { type: pkcs11js.CKA_APPLICATION, value: 'keyrotor:half-destroyed' },
        {
          type: pkcs11js.CKA_VALUE,
          value: Buffer.from(
            JSON.stringify({ algorithm: 'rsa-2048', createdAt: new Date().toISOString(), publicJwk: null }),
          ),
        },
      ])
    })
    expect(listObjectsWithPkcs11Tool(hsm, TOKEN)).toContain('label:      half-destroyed.v1\n')
    expect((await provider.describeVersion(key, 1))?.state).toBe('destroyed')
    expect(listObjectsWithPkcs11Tool(hsm, TOKEN)).not.toContain('label:      half-destroyed.v1\n')
  })

  it('re-opens its sessions and re-initializes the module after they fail under it', async () => {
    const key: ProviderKeyRef = { keyId: 'resilient', algorithm: 'hmac-sha256' }
    await provider.createVersion(key, 1)
    // another user of the same library in this process: what a token reset looks like to us
    const intruder = new pkcs11js.PKCS11()
    intruder.load(SOFTHSM_MODULE)
    const slot = intruder
      .C_GetSlotList(true)
      .find((s) => intruder.C_GetTokenInfo(s).label.trim() === TOKEN.label)
    intruder.C_CloseAllSessions(slot as Buffer)
    expect(await provider.selfTest(key, 1)).toMatchObject({ passed: true })
    intruder.C_Finalize()
    expect((await provider.describeVersion(key, 1))?.state).toBe('enabled')
    expect(await provider.selfTest(key, 1)).toMatchObject({ passed: true })
  })
})

/** A session of the test's own on the token, beside the provider's (same library, this process). */
function withRawSession(work: (lib: pkcs11js.PKCS11, session: Buffer) => void): void {
  const lib = new pkcs11js.PKCS11()
  lib.load(SOFTHSM_MODULE)
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === TOKEN.label)
  const session = lib.C_OpenSession(slot as Buffer, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION)
  try {
    work(lib, session)
  } finally {
    lib.C_CloseSession(session)
  }
}
