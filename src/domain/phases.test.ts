import { describe, expect, it } from 'vitest'
import {
  firstPhase,
  isMutating,
  isPartialExecution,
  isPastPointOfNoReturn,
  nextPhase,
  phasesOf,
} from './phases.js'
import { parseDuration } from './duration.js'

describe('phases', () => {
  it('runs a rotation through the six phases of DESIGN §3 in order', () => {
    const seen = [firstPhase('rotate')]
    for (let p = nextPhase('rotate', 'preflight'); p !== null; p = nextPhase('rotate', p)) seen.push(p)
    expect(seen).toEqual(['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate'])
    expect(phasesOf('emergency-rotate')).toEqual(seen)
  })

  it('runs a forward correction through preflight, promote, confirm, validate: nothing is created anew', () => {
    expect(phasesOf('forward-correct')).toEqual(['preflight', 'promote', 'confirm', 'validate'])
  })

  it('runs a revoke through preflight, retire, revoke', () => {
    expect(phasesOf('revoke')).toEqual(['preflight', 'retire', 'revoke'])
  })

  it('refuses a phase that is not part of the run kind', () => {
    expect(() => nextPhase('revoke', 'promote')).toThrow(/not part of a revoke run/)
  })

  it('marks exactly create, promote and revoke as mutating', () => {
    expect(phasesOf('rotate').filter(isMutating)).toEqual(['create', 'promote'])
    expect(phasesOf('revoke').filter(isMutating)).toEqual(['revoke'])
  })

  it('places the point of no return at promote', () => {
    expect(phasesOf('rotate').filter((p) => isPastPointOfNoReturn('rotate', p))).toEqual([
      'promote',
      'confirm',
      'validate',
    ])
  })

  it('calls a stop in promote or confirm partial execution, never one in validate or in a revoke', () => {
    expect(phasesOf('rotate').filter((p) => isPartialExecution('rotate', p))).toEqual(['promote', 'confirm'])
    expect(phasesOf('emergency-rotate').filter((p) => isPartialExecution('emergency-rotate', p))).toEqual([
      'promote',
      'confirm',
    ])
    expect(phasesOf('forward-correct').filter((p) => isPartialExecution('forward-correct', p))).toEqual([
      'promote',
      'confirm',
    ])
    expect(phasesOf('revoke').filter((p) => isPartialExecution('revoke', p))).toEqual([])
  })
})

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['10m', 600_000],
    ['6h', 21_600_000],
    ['90d', 7_776_000_000],
    ['1h30m', 5_400_000],
    ['0s', 0],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each(['', '10', 'ten minutes', '5x', '1h 30m', '-1s'])('refuses %j naming it', (text) => {
    expect(() => parseDuration(text)).toThrow(`"${text}" is not a duration`)
  })
})
