import { describe, expect, it } from 'vitest'
import { isKeyrotorError } from '../errors.js'
import { canTransition, transitionVersion, VERSION_STATES, type VersionState } from './lifecycle.js'

// DESIGN §2, written out independently of the implementation's table
const ALLOWED: ReadonlyArray<[VersionState, VersionState]> = [
  ['pending', 'active'],
  ['pending', 'destroyed'],
  ['active', 'retiring'],
  ['retiring', 'disabled'],
  ['disabled', 'destroyed'],
]

const allPairs = VERSION_STATES.flatMap((from) => VERSION_STATES.map((to) => [from, to] as const))
const isAllowed = (from: VersionState, to: VersionState) => ALLOWED.some(([f, t]) => f === from && t === to)

describe('version lifecycle', () => {
  it.each(allPairs.filter(([f, t]) => isAllowed(f, t)))('allows %s → %s in a phase', (from, to) => {
    expect(transitionVersion(from, to)).toBe(to)
  })

  it.each(allPairs.filter(([f, t]) => !isAllowed(f, t) && !(f === 'disabled' && t === 'retiring')))(
    'refuses %s → %s with ILLEGAL_TRANSITION',
    (from, to) => {
      expect(canTransition(from, to, 'forward-correction')).toBe(false)
      let thrown: unknown
      try {
        transitionVersion(from, to)
      } catch (error) {
        thrown = error
      }
      expect(isKeyrotorError(thrown, 'ILLEGAL_TRANSITION')).toBe(true)
      expect((thrown as Error).message).toContain(`${from} → ${to}`)
    },
  )

  it('re-enables a disabled version only by forward correction', () => {
    expect(() => transitionVersion('disabled', 'retiring')).toThrow(/reserved to forward correction/)
    expect(transitionVersion('disabled', 'retiring', 'forward-correction')).toBe('retiring')
  })

  it('never leaves destroyed', () => {
    for (const to of VERSION_STATES) expect(canTransition('destroyed', to, 'forward-correction')).toBe(false)
  })
})
