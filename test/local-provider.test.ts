import { createDecipheriv, randomBytes } from 'node:crypto'
import { CompactEncrypt, importJWK, jwtVerify, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ALGORITHMS, isAsymmetric, type Algorithm } from '../src/domain/algorithms.js'
import { KeyrotorError, type ErrorCode } from '../src/errors.js'
import type { Jwk, KeyProvider, ProviderKeyRef } from '../src/providers/key-provider.js'
import { createLocalProvider } from '../src/providers/local/local-provider.js'
import { createProviderRegistry } from '../src/providers/registry.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

const PRIVATE_MEMBERS = ['k', 'd', 'p', 'q', 'dp', 'dq', 'qi'] as const

async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<KeyrotorError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected a ${code} error, but the call succeeded`)
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(KeyrotorError)
  expect((error as KeyrotorError).code).toBe(code)
  return error as KeyrotorError
}

/** Proves the exported JWK works outside keyrotor: with jose, and with node:crypto for AES. */
async function useExportedMaterial(
  algorithm: Algorithm,
  material: Jwk,
  publicJwk: Jwk | null,
): Promise<void> {
  const alg = String(material.alg)
  if (algorithm === 'aes-256-gcm') {
    // jose encrypts (JWE dir + A256GCM); node:crypto decrypts with the raw exported `k`
    const plaintext = randomBytes(40)
    const jwe = await new CompactEncrypt(plaintext)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(await importJWK(material, 'dir'))
    const [header, , iv, ciphertext, tag] = jwe.split('.') as [string, string, string, string, string]
    const decipher = createDecipheriv(
      'aes-256-gcm',
      Buffer.from(String(material.k), 'base64url'),
      Buffer.from(iv, 'base64url'),
    )
    decipher.setAAD(Buffer.from(header, 'ascii'))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    const decrypted = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()])
    expect(decrypted.equals(plaintext)).toBe(true)
    return
  }
  const verifyWith = isAsymmetric(algorithm) ? (publicJwk as Jwk) : material
  const token = await new SignJWT({ sub: 'self-check' })
    .setProtectedHeader({ alg, kid: String(material.kid) })
    .sign(await importJWK(material, alg))
  const { payload, protectedHeader } = await jwtVerify(token, await importJWK(verifyWith, alg))
  expect(payload.sub).toBe('self-check')
  expect(protectedHeader.kid).toBe(material.kid)
}

describe.each(DIALECTS)('local provider on %s', (dialect) => {
  let store: TestStore
  let provider: KeyProvider
  const masterKey = randomBytes(32)
  let counter = 0
  /** A key of its own for each test, so tests do not see each other's versions. */
  const newKey = (algorithm: Algorithm = 'ec-p256'): ProviderKeyRef => ({
    keyId: `key-${++counter}`,
    algorithm,
  })
  const rawRow = (key: ProviderKeyRef, version: number) =>
    store.db
      .selectFrom('local_keystore')
      .selectAll()
      .where('key_id', '=', key.keyId)
      .where('version', '=', version)
      .executeTakeFirstOrThrow()

  beforeAll(async () => {
    store = await createTestStore(dialect)
    provider = createLocalProvider({ db: store.db, masterKey })
  })
  afterAll(async () => {
    await store.dispose()
  })

  describe.each(ALGORITHMS)('%s', (algorithm) => {
    it('creates an enabled version whose self-test passes and whose exported JWK works with jose', async () => {
      const key = newKey(algorithm)
      const created = await provider.createVersion(key, 1)
      expect(created).toMatchObject({ keyId: key.keyId, version: 1, state: 'enabled' })
      expect(await provider.selfTest(key, 1)).toEqual({ passed: true, detail: expect.any(String) })

      const material = await provider.exportMaterial(key, 1)
      expect(material).toMatchObject({
        kid: `${key.keyId}.v1`,
        use: algorithm === 'aes-256-gcm' ? 'enc' : 'sig',
      })
      const publicJwk = await provider.publicJwk(key, 1)
      if (isAsymmetric(algorithm)) {
        expect(publicJwk).toMatchObject({ kid: `${key.keyId}.v1`, alg: material.alg, use: 'sig' })
        for (const member of PRIVATE_MEMBERS) expect(publicJwk).not.toHaveProperty(member)
      } else {
        expect(publicJwk).toBeNull()
      }
      await useExportedMaterial(algorithm, material, publicJwk)
    })

    it('keeps the secret part of the material out of the database in clear', async () => {
      const key = newKey(algorithm)
      await provider.createVersion(key, 1)
      const secret = String((await provider.exportMaterial(key, 1))[isAsymmetric(algorithm) ? 'd' : 'k'])
      const row = await rawRow(key, 1)
      expect(secret.length).toBeGreaterThanOrEqual(32)
      expect(JSON.stringify(row)).not.toContain(secret)
      expect(row.sealed_material).not.toContain('kty')
    })
  })

  it('returns the existing version unchanged when createVersion is repeated', async () => {
    const key = newKey('hmac-sha256')
    const first = await provider.createVersion(key, 1)
    const material = await provider.exportMaterial(key, 1)
    expect(await provider.createVersion(key, 1)).toEqual(first)
    expect(await provider.exportMaterial(key, 1)).toEqual(material)
    expect(await provider.listVersions(key)).toEqual([first])
  })

  it('settles concurrent creates of one version from two instances on a single material', async () => {
    // RSA generation is slow enough that every caller has checked (and missed) before any inserts
    const key = newKey('rsa-2048')
    const early = createLocalProvider({
      db: store.db,
      masterKey,
      now: () => new Date('2030-01-01T00:00:00Z'),
    })
    const late = createLocalProvider({ db: store.db, masterKey, now: () => new Date('2031-01-01T00:00:00Z') })
    const results = await Promise.all([early, late, early, late].map((p) => p.createVersion(key, 1)))
    const stored = await provider.describeVersion(key, 1)
    for (const result of results) expect(result).toEqual(stored)
    expect(await provider.listVersions(key)).toHaveLength(1)
    expect((await provider.selfTest(key, 1)).passed).toBe(true)
  })

  it('refuses to re-create an existing version under another algorithm', async () => {
    const key = newKey('ed25519')
    await provider.createVersion(key, 1)
    await rejectsWith(provider.createVersion({ ...key, algorithm: 'aes-256-gcm' }, 1), 'CONFLICT')
  })

  it('lists versions in order and describes an unknown version as null', async () => {
    const key = newKey('aes-256-gcm')
    for (const version of [2, 1, 3]) await provider.createVersion(key, version)
    expect((await provider.listVersions(key)).map((v) => v.version)).toEqual([1, 2, 3])
    expect(await provider.describeVersion(key, 9)).toBeNull()
    expect(await provider.listVersions(newKey())).toEqual([])
  })

  it('moves an alias between versions of its key and refuses to hand it to another key', async () => {
    const key = newKey('aes-256-gcm')
    const alias = `alias/${key.keyId}`
    await provider.createVersion(key, 1)
    await provider.createVersion(key, 2)
    expect(await provider.getAlias(key, alias)).toBeNull()
    await provider.setAlias(key, alias, 1)
    expect(await provider.getAlias(key, alias)).toBe(1)
    await provider.setAlias(key, alias, 2)
    await provider.setAlias(key, alias, 2)
    expect(await provider.getAlias(key, alias)).toBe(2)

    const other = newKey('aes-256-gcm')
    await provider.createVersion(other, 1)
    await rejectsWith(provider.setAlias(other, alias, 1), 'CONFLICT')
    expect(await provider.getAlias(key, alias)).toBe(2)
    expect(await provider.getAlias(other, alias)).toBeNull()
    await rejectsWith(provider.setAlias(key, alias, 7), 'NOT_FOUND')
  })

  it('refuses export and fails the self-test of a disabled version, and serves it again once re-enabled', async () => {
    const key = newKey('hmac-sha256')
    await provider.createVersion(key, 1)
    const material = await provider.exportMaterial(key, 1)
    await provider.setVersionState(key, 1, 'disabled')
    await provider.setVersionState(key, 1, 'disabled')
    expect(await provider.describeVersion(key, 1)).toMatchObject({ state: 'disabled' })
    const error = await rejectsWith(provider.exportMaterial(key, 1), 'MATERIAL_UNAVAILABLE')
    expect(error.message).not.toContain(String(material.k))
    expect(await provider.selfTest(key, 1)).toEqual({
      passed: false,
      detail: expect.stringMatching(/disabled/),
    })
    await rejectsWith(provider.setAlias(key, `alias/${key.keyId}`, 1), 'ILLEGAL_TRANSITION')

    await provider.setVersionState(key, 1, 'enabled')
    expect(await provider.exportMaterial(key, 1)).toEqual(material)
  })

  it('destroys material for good: tombstoned row, no export, no re-enable, no re-create', async () => {
    const key = newKey('ec-p256')
    await provider.createVersion(key, 1)
    const publicJwk = await provider.publicJwk(key, 1)
    await provider.setVersionState(key, 1, 'disabled')
    await provider.setVersionState(key, 1, 'destroyed')
    await provider.setVersionState(key, 1, 'destroyed')
    expect((await rawRow(key, 1)).sealed_material).toBe('')
    await rejectsWith(provider.exportMaterial(key, 1), 'MATERIAL_UNAVAILABLE')
    expect(await provider.selfTest(key, 1)).toEqual({
      passed: false,
      detail: expect.stringMatching(/destroyed/),
    })
    await rejectsWith(provider.setVersionState(key, 1, 'enabled'), 'ILLEGAL_TRANSITION')
    await rejectsWith(provider.setVersionState(key, 1, 'disabled'), 'ILLEGAL_TRANSITION')
    expect(await provider.createVersion(key, 1)).toMatchObject({ state: 'destroyed' })
    expect((await rawRow(key, 1)).sealed_material).toBe('')
    expect(await provider.publicJwk(key, 1)).toEqual(publicJwk)
  })

  it('answers NOT_FOUND for a version that does not exist, and fails its self-test', async () => {
    const key = newKey('aes-256-gcm')
    await rejectsWith(provider.exportMaterial(key, 1), 'NOT_FOUND')
    await rejectsWith(provider.publicJwk(key, 1), 'NOT_FOUND')
    await rejectsWith(provider.setVersionState(key, 1, 'disabled'), 'NOT_FOUND')
    expect(await provider.selfTest(key, 1)).toEqual({
      passed: false,
      detail: expect.stringMatching(/does not exist/),
    })
  })

  it('refuses material sealed for another version or under another master key', async () => {
    const key = newKey('aes-256-gcm')
    await provider.createVersion(key, 1)
    await provider.createVersion(key, 2)
    const stranger = createLocalProvider({ db: store.db, masterKey: randomBytes(32) })
    await rejectsWith(stranger.exportMaterial(key, 1), 'PROVIDER_ERROR')
    expect((await stranger.selfTest(key, 1)).passed).toBe(false)

    // swap v1's sealed blob onto v2: the kid bound as AAD no longer matches
    const v1 = await rawRow(key, 1)
    await store.db
      .updateTable('local_keystore')
      .set({ sealed_material: v1.sealed_material })
      .where('key_id', '=', key.keyId)
      .where('version', '=', 2)
      .execute()
    await rejectsWith(provider.exportMaterial(key, 2), 'PROVIDER_ERROR')
  })

  it('registry builds one cached local provider that works on the store', async () => {
    const registry = createProviderRegistry({ store: { db: store.db, masterKey }, env: {} })
    const local = registry.get('local')
    expect(registry.get('local')).toBe(local)
    const key = newKey('ed25519')
    await local.createVersion(key, 1)
    expect((await provider.selfTest(key, 1)).passed).toBe(true)
  })
})
