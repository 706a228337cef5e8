import { describe, expect, it } from 'vitest'
import { ALGORITHMS, isAsymmetric } from '../../domain/algorithms.js'
import { generateMaterial } from './material.js'
import { selfTestMaterial } from './self-test.js'

describe('selfTestMaterial', () => {
  it.each(ALGORITHMS)('passes for freshly generated %s material', async (algorithm) => {
    const { privateJwk, publicJwk } = await generateMaterial('k', 1, algorithm)
    const result = selfTestMaterial(algorithm, privateJwk, publicJwk)
    expect(result.passed).toBe(true)
    expect(result.detail).not.toContain(String(privateJwk.k ?? privateJwk.d))
  })

  it.each(ALGORITHMS.filter(isAsymmetric))(
    'fails for %s when the public key belongs to another pair',
    async (algorithm) => {
      const mine = await generateMaterial('k', 1, algorithm)
      const other = await generateMaterial('k', 2, algorithm)
      expect(selfTestMaterial(algorithm, mine.privateJwk, other.publicJwk).passed).toBe(false)
    },
  )

  it('fails for a key pair without a stored public key, saying so', async () => {
    const { privateJwk } = await generateMaterial('k', 1, 'ec-p256')
    const result = selfTestMaterial('ec-p256', privateJwk, null)
    expect(result).toEqual({ passed: false, detail: expect.stringMatching(/no public JWK/) })
  })

  it('fails for a symmetric key of the wrong length', () => {
    const jwk = { kty: 'oct', k: Buffer.alloc(16, 7).toString('base64url') }
    const result = selfTestMaterial('aes-256-gcm', jwk, null)
    expect(result.passed).toBe(false)
    expect(result.detail).toMatch(/16 bytes/)
  })

  it('fails when the stored material is of another algorithm', async () => {
    const { privateJwk, publicJwk } = await generateMaterial('k', 1, 'ed25519')
    expect(selfTestMaterial('aes-256-gcm', privateJwk, publicJwk).passed).toBe(false)
  })
})

describe('generateMaterial', () => {
  it('tags every JWK with kid, alg and use, and gives symmetric keys no public part', async () => {
    const aes = await generateMaterial('payments-dek', 3, 'aes-256-gcm')
    expect(aes.privateJwk).toMatchObject({ kty: 'oct', kid: 'payments-dek.v3', alg: 'A256GCM', use: 'enc' })
    expect(Buffer.from(String(aes.privateJwk.k), 'base64url')).toHaveLength(32)
    expect(aes.publicJwk).toBeNull()
    const ed = await generateMaterial('issuer', 1, 'ed25519')
    expect(ed.publicJwk).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      x: ed.privateJwk.x,
      kid: 'issuer.v1',
      alg: 'EdDSA',
      use: 'sig',
    })
    expect(ed.privateJwk.d).toEqual(expect.any(String))
  })
})
