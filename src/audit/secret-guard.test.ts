import { describe, expect, it } from 'vitest'
import { assertNoSecrets, looksSecret } from './secret-guard.js'

describe('looksSecret', () => {
  const secret = [
    'token',
    'adminToken',
    'hook_secret',
    'material',
    'password',
    'k',
    'd',
    'DQ',
    'privateKey',
    'apiKey',
  ]
  const harmless = [
    'tokenId',
    'secretEnv',
    'key',
    'keyId',
    'version',
    'materialVersion',
    'kid',
    'reason',
    'role',
  ]
  for (const name of secret) it(`flags ${name}`, () => expect(looksSecret(name)).toBe(true))
  for (const name of harmless) it(`lets ${name} pass`, () => expect(looksSecret(name)).toBe(false))
})

describe('assertNoSecrets', () => {
  it('finds a secret-looking member nested in arrays and objects, naming its path only', () => {
    expect(() => assertNoSecrets({ versions: [{ version: 2, jwk: { kty: 'oct', k: 'c2VjcmV0' } }] })).toThrow(
      'refusing to audit details.versions[0].jwk.k: it looks like a secret',
    )
  })

  it('finds a bearer token in a string value under an innocent name', () => {
    const token = `kr_${'x'.repeat(43)}`
    expect(() => assertNoSecrets({ note: `copied ${token}` })).toThrow('details.note')
  })

  it('accepts ordinary details', () => {
    expect(() =>
      assertNoSecrets({ key: 'payments-dek', fromVersion: 3, tokenId: 'tok_1', dependents: ['a'] }),
    ).not.toThrow()
  })
})
