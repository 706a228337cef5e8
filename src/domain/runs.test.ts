import { describe, expect, it } from 'vitest'
import { isKeyrotorError } from '../errors.js'
import { canTransitionRun, isTerminal, priorityOf, RUN_STATES, transitionRun, type RunState } from './runs.js'

const ALLOWED: ReadonlyArray<[RunState, RunState]> = [
  ['awaiting_approval', 'queued'],
  ['awaiting_approval', 'rejected'],
  ['awaiting_approval', 'cancelled'],
  ['queued', 'running'],
  ['queued', 'cancelled'],
  ['queued', 'failed'],
  ['queued', 'halted'],
  ['running', 'succeeded'],
  ['running', 'failed'],
  ['running', 'halted'],
  ['running', 'cancelled'],
  ['failed', 'queued'],
]
const pairs = RUN_STATES.flatMap((from) => RUN_STATES.map((to) => [from, to] as const))
const allowed = (f: RunState, t: RunState) => ALLOWED.some(([a, b]) => a === f && b === t)

describe('run states', () => {
  it.each(pairs.filter(([f, t]) => allowed(f, t)))('allows %s → %s', (from, to) => {
    expect(transitionRun(from, to)).toBe(to)
  })

  it.each(pairs.filter(([f, t]) => !allowed(f, t)))('refuses %s → %s', (from, to) => {
    expect(canTransitionRun(from, to)).toBe(false)
    expect(() => transitionRun(from, to)).toThrow(`run state ${from} → ${to} is not allowed`)
    try {
      transitionRun(from, to)
    } catch (error) {
      expect(isKeyrotorError(error, 'ILLEGAL_TRANSITION')).toBe(true)
    }
  })

  it('treats only queued, awaiting_approval and running as holding the key', () => {
    expect(RUN_STATES.filter((s) => !isTerminal(s))).toEqual(['queued', 'awaiting_approval', 'running'])
  })

  it('orders emergency before manual before scheduled', () => {
    const emergency = priorityOf('emergency-rotate', 'manual')
    const manual = priorityOf('rotate', 'manual')
    const scheduled = priorityOf('rotate', 'scheduler')
    expect(emergency).toBeLessThan(manual)
    expect(manual).toBeLessThan(scheduled)
  })
})
