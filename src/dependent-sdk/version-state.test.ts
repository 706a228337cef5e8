import { describe, expect, it } from 'vitest'
import { DependentError } from './types.js'
import type { Notice, NoticeEvent } from './types.js'
import { VersionState } from './version-state.js'
import type { VersionHooks } from './version-state.js'

const notice = (event: NoticeEvent, version: number, key = 'k'): Notice => ({
  event,
  key,
  version,
  runId: 'run-1',
  correlationId: 'corr-1',
  deadline: '2030-01-01T00:00:00Z',
})

function stateOf(
  role: 'encrypt' | 'decrypt' | 'sign' | 'verify',
  hooks: VersionHooks = {},
  loads: number[] = [],
) {
  const state = new VersionState('k', role, async (v) => void loads.push(v), hooks)
  state.reset(new Map([[1, undefined]]), 1)
  return state
}

describe('version state', () => {
  it('stages, promotes and retires an encrypting service through v1 → v2', async () => {
    const loads: number[] = []
    const state = stateOf('encrypt', {}, loads)
    await state.apply(notice('key.version.staged', 2))
    expect(state.probeAnswer()).toEqual({ key: 'k', accepts: [1, 2], active: 1 })
    await state.apply(notice('key.version.promoted', 2))
    await state.apply(notice('key.version.retired', 1))
    expect(state.probeAnswer()).toEqual({ key: 'k', accepts: [2], active: 2 })
    expect(loads).toEqual([2])
  })

  it('loads a version once however often its notice is repeated', async () => {
    const loads: number[] = []
    const state = stateOf('decrypt', {}, loads)
    for (let i = 0; i < 3; i++) await state.apply(notice('key.version.staged', 2))
    expect(loads).toEqual([2])
  })

  it('keeps active null for a verify-only service after a promotion', async () => {
    const state = stateOf('verify')
    await state.apply(notice('key.version.promoted', 2))
    expect(state.probeAnswer()).toEqual({ key: 'k', accepts: [1, 2], active: null })
  })

  it('leaves the state unchanged when a hook throws', async () => {
    const state = stateOf('encrypt', {
      onRetired: () => {
        throw new Error('re-wrap not finished')
      },
    })
    await state.apply(notice('key.version.promoted', 2))
    const refused = state.apply(notice('key.version.retired', 1))
    await expect(refused).rejects.toMatchObject({
      code: 'HOOK_FAILED',
      message: 'onRetired failed: re-wrap not finished',
    })
    expect(state.probeAnswer().accepts).toEqual([1, 2])
  })

  it('refuses to retire the active version and a notice for another key', async () => {
    const state = stateOf('encrypt')
    await expect(state.apply(notice('key.version.retired', 1))).rejects.toMatchObject({ code: 'IN_USE' })
    await expect(state.apply(notice('key.version.staged', 2, 'other'))).rejects.toBeInstanceOf(DependentError)
    expect(state.probeAnswer()).toEqual({ key: 'k', accepts: [1], active: 1 })
  })

  it('stops signing and verifying with a compromised signing version, but keeps decrypting', async () => {
    const signer = stateOf('sign')
    await signer.apply(notice('key.compromised', 1))
    expect(signer.probeAnswer()).toEqual({ key: 'k', accepts: [], active: null })
    const encrypter = stateOf('encrypt')
    await encrypter.apply(notice('key.compromised', 1))
    expect(encrypter.probeAnswer()).toEqual({ key: 'k', accepts: [1], active: null })
  })

  it('drops a revoked version entirely', async () => {
    const state = stateOf('decrypt')
    await state.apply(notice('key.version.revoked', 1))
    expect(state.probeAnswer()).toEqual({ key: 'k', accepts: [], active: null })
  })

  it('runs onRevoked once for a version revoked after it was retired', async () => {
    const revoked: number[] = []
    const state = stateOf('decrypt', { onRevoked: (v) => void revoked.push(v) })
    await state.apply(notice('key.version.staged', 2))
    await state.apply(notice('key.version.retired', 1))
    await state.apply(notice('key.version.revoked', 1))
    await state.apply(notice('key.version.revoked', 1))
    expect(revoked).toEqual([1])
    expect(state.probeAnswer()).toEqual({ key: 'k', accepts: [2], active: null })
  })

  it('does not run onRevoked for a version this service never had', async () => {
    const revoked: number[] = []
    const state = stateOf('decrypt', { onRevoked: (v) => void revoked.push(v) })
    await state.apply(notice('key.version.revoked', 7))
    expect(revoked).toEqual([])
  })

  it('keeps the providerRef a notice names for its version', async () => {
    const state = stateOf('encrypt')
    await state.apply({ ...notice('key.version.staged', 2), providerRef: 'keyrotor-hsm:k.v2' })
    expect(state.providerRef(2)).toBe('keyrotor-hsm:k.v2')
    expect(state.providerRef(1)).toBeUndefined()
  })
})
