import { describe, expect, it } from 'vitest'
import { isKeyrotorError } from '../errors.js'
import { ACTIONS, authorize, can, type Action } from './permissions.js'
import { ROLES, type Role } from '../domain/roles.js'

// The whole matrix spelled out once more, by hand: a change to PERMISSIONS must be made twice,
// on purpose. v = viewer, o = operator, s = security, a = admin, c = consumer.
const EXPECTED: Record<Action, string> = {
  'keys.read': 'vosa',
  'keys.verify': 'osa',
  'runs.read': 'vosa',
  'rotation.trigger': 'osa',
  'rotation.forward-correct': 'osa',
  'runs.verify': 'osa',
  'runs.retry': 'osa',
  'runs.cancel': 'osa',
  'alerts.read': 'vosa',
  'alerts.ack': 'osa',
  'halt.read': 'vosa',
  'halt.engage': 'sa',
  'halt.release': 'sa',
  'approvals.read': 'vosa',
  'approvals.decide': 'sa',
  'incidents.read': 'vosa',
  'incidents.close': 'sa',
  'timeline.read': 'vosa',
  'config.read': 'vosa',
  'config.validate': 'vosa',
  'config.propose': 'a',
  'config.apply': 'a',
  'audit.read': 'vosa',
  'tokens.manage': 'a',
  'material.read': 'c',
}
const LETTER: Record<Role, string> = { viewer: 'v', operator: 'o', security: 's', admin: 'a', consumer: 'c' }

describe('permissions', () => {
  for (const action of ACTIONS) {
    for (const role of ROLES) {
      const allowed = EXPECTED[action].includes(LETTER[role])
      it(`${allowed ? 'allows' : 'refuses'} ${role} to ${action}`, () => {
        expect(can(role, action)).toBe(allowed)
      })
    }
  }

  it('refuses operators everything beyond triggering, viewing and acknowledging', () => {
    const refused: Action[] = [
      'halt.engage',
      'halt.release',
      'approvals.decide',
      'tokens.manage',
      'material.read',
    ]
    expect(refused.filter((a) => can('operator', a))).toEqual([])
  })

  it('lets a consumer do nothing but read material', () => {
    expect(ACTIONS.filter((a) => can('consumer', a))).toEqual(['material.read'])
  })

  it('refuses a consumer the material of a key it is not bound to', () => {
    const consumer = { user: 'payments-api', role: 'consumer', keyId: 'payments-dek' } as const
    expect(() => authorize(consumer, 'material.read', { keyId: 'payments-dek' })).not.toThrow()
    let caught: unknown
    try {
      authorize(consumer, 'material.read', { keyId: 'billing-dek' })
    } catch (error) {
      caught = error
    }
    expect(isKeyrotorError(caught, 'FORBIDDEN')).toBe(true)
  })

  it('refuses with FORBIDDEN naming the user and the action', () => {
    expect(() => authorize({ user: 'olga', role: 'operator', keyId: null }, 'halt.engage')).toThrow(
      'olga (operator) may not halt.engage',
    )
  })
})
