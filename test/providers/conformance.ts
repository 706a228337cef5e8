import { randomBytes } from 'node:crypto'
import { CompactEncrypt, compactDecrypt, importJWK, jwtVerify, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isAsymmetric, joseAlgorithm, type Algorithm } from '../../src/domain/algorithms.js'
import { KeyrotorError, type ErrorCode } from '../../src/errors.js'
import type { Jwk, KeyProvider, ProviderKeyRef } from '../../src/providers/key-provider.js'
import type { DialectName } from '../../src/store/dialect.js'
import { createTestStore, DIALECTS, type TestStore } from '../helpers/stores.js'
import { startEngineUnderTest, type EngineUnderTest } from './engine-under-test.js'
import type { ConformanceSubject, SubjectFactory } from './subject.js'

export type { ConformanceSubject, SubjectFactory } from './subject.js'

const PRIVATE_MEMBERS = ['k', 'd', 'p', 'q', 'dp', 'dq', 'qi'] as const

async function refusal(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const error = await promise.then(
    () => new Error(`expected ${code}, but the call succeeded`),
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(KeyrotorError)
  expect((error as KeyrotorError).code).toBe(code)
}

/**
 * The behaviour every provider owes the engine (docs/providers.md): run it with a factory, once
 * per provider: `runProviderConformance('pkcs11 on SoftHSM2', makeSoftHsmSubject)`.
 */
export function runProviderConformance(
  name: string,
  makeSubject: SubjectFactory,
  options: {
    dialects?: readonly DialectName[]
    /** False for a backend that keeps nothing in keyrotor's store: its own cases run on one dialect. */
    usesStore?: boolean
  } = {},
): void {
  const dialects = options.dialects ?? DIALECTS
  const backendDialects = options.usesStore === false ? dialects.slice(0, 1) : dialects
  describe.each(backendDialects)(`${name} conformance on %s`, (dialect) => {
    let store: TestStore
    let subject: ConformanceSubject
    let provider: KeyProvider
    let counter = 0
    const newKey = (algorithm?: Algorithm): ProviderKeyRef => ({
      keyId: `conf-${randomBytes(3).toString('hex')}-${++counter}`,
      algorithm: algorithm ?? (subject.algorithms[0] as Algorithm),
    })
    beforeAll(async () => {
      store = await createTestStore(dialect)
      subject = await makeSubject({ db: store.db })
      provider = subject.provider
    })
    afterAll(async () => {
      await subject?.close?.()
      await store?.dispose()
    })

    it('creates idempotently: a repeated create returns the same version with the same material', async () => {
      const key = newKey()
      const first = await provider.createVersion(key, 1)
      expect(first).toMatchObject({ keyId: key.keyId, version: 1, state: 'enabled' })
      expect(first.providerRef).not.toBe('')
      const publicBefore = await provider.publicJwk(key, 1)
      const again = await provider.createVersion(key, 1)
      expect(again.providerRef).toBe(first.providerRef)
      expect(await provider.publicJwk(key, 1)).toEqual(publicBefore)
      expect((await provider.listVersions(key)).map((v) => v.version)).toEqual([1])
    })

    it('ends concurrent creates of the same version with one version that every caller gets', async () => {
      const key = newKey()
      const results = await Promise.all([1, 2, 3, 4].map(() => provider.createVersion(key, 1)))
      expect(new Set(results.map((r) => r.providerRef)).size).toBe(1)
      expect(await provider.listVersions(key)).toHaveLength(1)
      if (subject.exportable) {
        // one material too: whoever lost the race did not overwrite the winner's key
        const material = await provider.exportMaterial(key, 1)
        expect((await provider.selfTest(key, 1)).passed).toBe(true)
        expect(await provider.exportMaterial(key, 1)).toEqual(material)
      }
    })

    it('describes each version as listVersions lists it, in version order, and unknown ones as null', async () => {
      const key = newKey()
      await provider.createVersion(key, 2)
      await provider.createVersion(key, 1)
      await provider.setVersionState(key, 1, 'disabled')
      const listed = await provider.listVersions(key)
      expect(listed.map((v) => [v.version, v.state])).toEqual([
        [1, 'disabled'],
        [2, 'enabled'],
      ])
      for (const v of listed) {
        expect(await provider.describeVersion(key, v.version)).toMatchObject({
          version: v.version,
          state: v.state,
          providerRef: v.providerRef,
        })
      }
      expect(await provider.describeVersion(key, 3)).toBeNull()
      expect(await provider.listVersions(newKey())).toEqual([])
    })

    it('moves an alias only to an enabled version of its own key', async () => {
      const key = newKey()
      const alias = `alias/${key.keyId}`
      expect(await provider.getAlias(key, alias)).toBeNull()
      await provider.createVersion(key, 1)
      await provider.createVersion(key, 2)
      await provider.setAlias(key, alias, 1)
      await provider.setAlias(key, alias, 1)
      expect(await provider.getAlias(key, alias)).toBe(1)

      await refusal(provider.setAlias(key, alias, 7), 'NOT_FOUND')
      await provider.setVersionState(key, 2, 'disabled')
      await refusal(provider.setAlias(key, alias, 2), 'ILLEGAL_TRANSITION')
      const other = newKey()
      await provider.createVersion(other, 1)
      await refusal(provider.setAlias(other, alias, 1), 'CONFLICT')
      expect(await provider.getAlias(key, alias), 'a refused move left the alias where it was').toBe(1)

      await provider.setVersionState(key, 2, 'enabled')
      await provider.setAlias(key, alias, 2)
      expect(await provider.getAlias(key, alias)).toBe(2)
    })

    it('goes enabled ⇄ disabled and to destroyed, which is final', async () => {
      const key = newKey()
      await provider.createVersion(key, 1)
      for (const state of ['disabled', 'disabled', 'enabled', 'destroyed', 'destroyed'] as const) {
        await provider.setVersionState(key, 1, state)
        expect((await provider.describeVersion(key, 1))?.state).toBe(state)
      }
      await refusal(provider.setVersionState(key, 1, 'enabled'), 'ILLEGAL_TRANSITION')
      await refusal(provider.setVersionState(key, 1, 'disabled'), 'ILLEGAL_TRANSITION')
      await refusal(provider.setVersionState(key, 2, 'disabled'), 'NOT_FOUND')
      expect((await provider.describeVersion(key, 1))?.state).toBe('destroyed')
      // a create of a destroyed version does not bring fresh material back
      expect((await provider.createVersion(key, 1)).state).toBe('destroyed')
    })

    it('self-tests in every state: passes enabled, fails (without throwing) disabled, destroyed and unknown', async () => {
      const key = newKey()
      await provider.createVersion(key, 1)
      expect(await provider.selfTest(key, 1)).toEqual({ passed: true, detail: expect.any(String) })
      await provider.setVersionState(key, 1, 'disabled')
      expect((await provider.selfTest(key, 1)).passed).toBe(false)
      await provider.setVersionState(key, 1, 'enabled')
      expect((await provider.selfTest(key, 1)).passed).toBe(true)
      await provider.setVersionState(key, 1, 'destroyed')
      expect((await provider.selfTest(key, 1)).passed).toBe(false)
      expect((await provider.selfTest(key, 2)).passed).toBe(false)
    })

    it('serves material only while enabled, or never for a backend that keeps it', async () => {
      const key = newKey()
      await provider.createVersion(key, 1)
      await refusal(
        provider.exportMaterial(key, 2),
        subject.exportable ? 'NOT_FOUND' : 'MATERIAL_UNAVAILABLE',
      )
      if (!subject.exportable) {
        await refusal(provider.exportMaterial(key, 1), 'MATERIAL_UNAVAILABLE')
        return
      }
      expect(await provider.exportMaterial(key, 1)).toMatchObject({ kid: `${key.keyId}.v1` })
      await provider.setVersionState(key, 1, 'disabled')
      await refusal(provider.exportMaterial(key, 1), 'MATERIAL_UNAVAILABLE')
      await provider.setVersionState(key, 1, 'destroyed')
      await refusal(provider.exportMaterial(key, 1), 'MATERIAL_UNAVAILABLE')
    })

    describe('per algorithm', () => {
      it('publishes a public JWK that matches the private key', async () => {
        for (const algorithm of subject.algorithms) {
          const key = newKey(algorithm)
          await provider.createVersion(key, 1)
          const publicJwk = await provider.publicJwk(key, 1)
          if (!isAsymmetric(algorithm)) {
            expect(publicJwk, algorithm).toBeNull()
          } else {
            expect(publicJwk, algorithm).toMatchObject({
              kid: `${key.keyId}.v1`,
              alg: joseAlgorithm(algorithm),
              use: 'sig',
            })
            for (const member of PRIVATE_MEMBERS) expect(publicJwk, algorithm).not.toHaveProperty(member)
          }
          // the backend's own check signs or encrypts with the version and verifies with what it publishes
          expect((await provider.selfTest(key, 1)).passed, algorithm).toBe(true)
          if (subject.exportable) {
            await useOutside(algorithm, await provider.exportMaterial(key, 1), publicJwk)
          } else if (publicJwk !== null) {
            await importJWK(publicJwk, joseAlgorithm(algorithm))
          }
        }
      })
    })
  })

  describe.each(dialects)(`${name} under the engine on %s`, (dialect) => {
    let server: EngineUnderTest | undefined
    afterAll(async () => {
      await server?.dispose()
    })
    const start = async (policy: string) => {
      await server?.dispose()
      server = await startEngineUnderTest(dialect, makeSubject, policy)
      return server
    }

    it('settles an in-doubt create and revoke after a crash between the backend call and its journal entry', async () => {
      const s = await start('{ gracePeriod: 0s, phaseTimeout: 30s, revoke: disable }')
      s.arm('rotate/create:after-provider')
      const rotation = await s.api<{ id: string }>('POST', `/v1/keys/${s.keyId}/rotations`, {})
      expect(rotation.status).toBe(201)
      await s.restartAfterCrash()
      s.arm('revoke/revoke:after-provider')
      expect((await s.waitForRun('rotate')).state).toBe('succeeded')
      await s.restartAfterCrash()
      expect((await s.waitForRun('revoke')).state).toBe('succeeded')
      expect(s.struck).toEqual(['rotate/create:after-provider', 'revoke/revoke:after-provider'])

      const atBackend = await s.provider().listVersions(s.ref)
      expect(atBackend.map((v) => [v.version, v.state])).toEqual([
        [1, 'disabled'],
        [2, 'enabled'],
      ])
      const view = await s.keyView()
      expect(view.versions.map((v) => [v.version, v.state, v.providerRef])).toEqual([
        [1, 'disabled', atBackend[0]?.providerRef],
        [2, 'active', atBackend[1]?.providerRef],
      ])
      expect(await s.provider().getAlias(s.ref, s.alias)).toBe(2)
    })

    it.each(['disabled', 'lost'] as const)(
      'freezes the key and raises unexpected_transition when the backend shows a version %s behind keyrotor',
      async (change) => {
        const s = await start('{ gracePeriod: 1h, phaseTimeout: 30s }')
        await s.subject.tamper(s.db, s.ref, 1, change)
        const report = await s.api<{ passed: boolean; mismatches: string[] }>(
          'POST',
          `/v1/keys/${s.keyId}/verify`,
        )
        expect(report.body.passed).toBe(false)
        expect(report.body.mismatches.join('\n')).toContain(change === 'lost' ? 'missing' : 'disabled')
        const alerts = await s.api<{ type: string; key: string }[]>('GET', '/v1/alerts')
        expect(alerts.body).toContainEqual(
          expect.objectContaining({ type: 'unexpected_transition', key: s.keyId }),
        )
        const row = await s.db
          .selectFrom('keys')
          .select('frozen_at')
          .where('id', '=', s.keyId)
          .executeTakeFirstOrThrow()
        expect(row.frozen_at).not.toBeNull()
        const refused = await s.api('POST', `/v1/keys/${s.keyId}/rotations`, {})
        expect(refused.status).toBeGreaterThanOrEqual(400)
      },
    )

    it('serves material at the material endpoint only for a backend that lets it leave (409 otherwise)', async () => {
      const s = await start('{ gracePeriod: 1h, phaseTimeout: 30s }')
      const token = (
        await s.api<{ token: string }>('POST', '/v1/tokens', { user: 'svc', role: 'consumer', key: s.keyId })
      ).body.token
      const answer = await s.api<{ code?: string; kid?: string }>(
        'GET',
        `/v1/keys/${s.keyId}/versions/1/material`,
        undefined,
        token,
      )
      if (s.subject.exportable) {
        expect(answer.status).toBe(200)
        expect(answer.body.kid).toBe(`${s.keyId}.v1`)
      } else {
        expect(answer.status).toBe(409)
        expect(answer.body.code).toBe('MATERIAL_UNAVAILABLE')
      }
    })
  })
}

/** Proves exported material works outside keyrotor, with jose, against the published public key. */
async function useOutside(algorithm: Algorithm, material: Jwk, publicJwk: Jwk | null): Promise<void> {
  const alg = joseAlgorithm(algorithm)
  if (algorithm === 'aes-256-gcm') {
    const plaintext = randomBytes(24)
    const jwe = await new CompactEncrypt(plaintext)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
      .encrypt(await importJWK(material, 'dir'))
    const { plaintext: back } = await compactDecrypt(jwe, await importJWK(material, 'dir'))
    expect(Buffer.from(back).equals(plaintext)).toBe(true)
    return
  }
  const token = await new SignJWT({ sub: 'conformance' })
    .setProtectedHeader({ alg, kid: String(material.kid) })
    .sign(await importJWK(material, alg))
  const verifyWith = isAsymmetric(algorithm) ? (publicJwk as Jwk) : material
  const { payload } = await jwtVerify(token, await importJWK(verifyWith, alg))
  expect(payload.sub, algorithm).toBe('conformance')
}
