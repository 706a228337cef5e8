import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ExecSettings } from '../../src/config/provider-settings.js'
import { KeyrotorError } from '../../src/errors.js'
import { ALGORITHMS, type Algorithm } from '../../src/domain/algorithms.js'
import { createLocalProvider } from '../../src/providers/local/local-provider.js'
import {
  createProviderRegistry,
  isProviderAvailable,
  type ProviderInstance,
} from '../../src/providers/registry.js'
import { createTestStore, type TestStore } from '../helpers/stores.js'

describe('provider registry', () => {
  let store: TestStore
  beforeAll(async () => {
    store = await createTestStore('sqlite')
  })
  afterAll(async () => {
    await store.dispose()
  })
  const registry = () =>
    createProviderRegistry({ store: { db: store.db, masterKey: randomBytes(32) }, env: {} })

  it('builds local, exec, pkcs11 and aws-kms; vault-transit stays a placeholder (it is an exec hook)', () => {
    for (const type of ['local', 'exec', 'pkcs11', 'aws-kms'] as const)
      expect(isProviderAvailable(type)).toBe(true)
    expect(isProviderAvailable('vault-transit')).toBe(false)
  })

  it('hands out one instance per name, and refuses an unknown name naming the configured ones', async () => {
    const providers = registry()
    expect(providers.get('local').kind).toBe('local')
    expect(providers.get('local')).toBe(providers.get('local'))
    await providers.configure({ hook: { type: 'exec', command: ['hook-a'], timeout: '5s' } })
    expect(providers.get('hook').kind).toBe('exec')
    let error: unknown
    try {
      providers.get('hsm')
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(KeyrotorError)
    expect(error).toMatchObject({
      code: 'INVALID_CONFIG',
      message: 'unknown provider "hsm" (configured: local, hook)',
    })
  })

  it('rebuilds an instance whose settings changed and keeps the others', async () => {
    const providers = registry()
    const hook: ExecSettings = { type: 'exec', command: ['hook-a'], timeout: '5s' }
    await providers.configure({ hook, other: { ...hook, command: ['hook-b'] } })
    const [first, other, local] = [providers.get('hook'), providers.get('other'), providers.get('local')]
    await providers.configure({ hook: { ...hook, timeout: '9s' }, other: { ...hook, command: ['hook-b'] } })
    expect(providers.get('hook')).not.toBe(first)
    expect(providers.get('other')).toBe(other)
    expect(providers.get('local')).toBe(local)
    await providers.configure({})
    expect(() => providers.get('hook')).toThrow('unknown provider "hook" (configured: local)')
  })

  it('checks each instance with the algorithms of the keys put on it, naming the instance that refuses', async () => {
    const asked: Record<string, unknown> = {}
    const instance = (name: string, can: readonly Algorithm[]): ProviderInstance => ({
      ...createLocalProvider({ db: store.db, masterKey: randomBytes(32) }),
      async check(algorithms = []) {
        asked[name] = algorithms
        const missing = algorithms.filter((a) => !can.includes(a))
        if (missing.length > 0) throw new KeyrotorError('INVALID_CONFIG', `cannot do ${missing.join(', ')}`)
      },
    })
    const providers = createProviderRegistry(
      { env: {} },
      { instances: { hsm: instance('hsm', ['ec-p256', 'aes-256-gcm']), kms: instance('kms', ALGORITHMS) } },
    )
    const settings = { type: 'exec' as const, command: ['unused'], timeout: '5s' }
    await providers.configure({ hsm: settings, kms: settings })
    const keys = [
      { provider: 'hsm', algorithm: 'ec-p256' as const },
      { provider: 'hsm', algorithm: 'ed25519' as const },
      { provider: 'kms', algorithm: 'rsa-3072' as const },
      { provider: 'local', algorithm: 'hmac-sha256' as const },
    ]
    const error = await providers.checkAll(keys).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(asked).toEqual({ hsm: ['ec-p256', 'ed25519'], kms: ['rsa-3072'] })
    expect(error).toMatchObject({
      code: 'INVALID_CONFIG',
      details: { problems: ['providers.hsm: cannot do ed25519'] },
    })
  })
})
