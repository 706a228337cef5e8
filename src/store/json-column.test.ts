import { describe, expect, it } from 'vitest'
import { KeyrotorError } from '../errors.js'
import { decodeAuditDetails } from './audit-columns.js'
import { decodeNotify, decodePolicy, encodePolicy } from './key-columns.js'
import { decodeOpenedMaterial } from './keystore-columns.js'

function thrown(run: () => unknown): KeyrotorError {
  try {
    run()
  } catch (error) {
    if (error instanceof KeyrotorError) return error
    throw error
  }
  throw new Error('did not throw')
}

describe('JSON columns', () => {
  it('gives back what was encoded, typed', () => {
    const policy = {
      gracePeriod: '1h',
      revoke: 'destroy',
      phaseTimeout: '3s',
      requireApproval: true,
    } as const
    expect(decodePolicy(encodePolicy(policy), 'k')).toEqual(policy)
    expect(decodeNotify({ key_id: 'k', name: 'api', notify: null })).toBeUndefined()
  })

  it('reports text that is not JSON as store damage naming table, column and row, not the value', () => {
    const error = thrown(() => decodeOpenedMaterial('{"kty":"oct","k":"c2VjcmV0', 'k-v1'))
    expect(error.code).toBe('INTERNAL')
    expect(error.message).toMatch(/store damage: local_keystore\.sealed_material of k-v1/)
    expect(error.details).toEqual({ table: 'local_keystore', column: 'sealed_material', row: 'k-v1' })
    expect(`${error.message} ${String(error.cause)}`).not.toContain('c2VjcmV0')
  })

  it('reports JSON that does not fit the schema as store damage with the path', () => {
    const error = thrown(() => decodePolicy('{"revoke":"shred"}', 'payments-dek'))
    expect(error.code).toBe('INTERNAL')
    expect(error.message).toMatch(/keys\.policy of payments-dek .*at revoke/)
  })

  it('keeps damaged audit details readable', () => {
    expect(decodeAuditDetails('{"a":1}')).toEqual({ a: 1 })
    expect(decodeAuditDetails('not json')).toEqual({ unparsable: 'not json' })
    expect(decodeAuditDetails(null)).toBeNull()
  })
})
