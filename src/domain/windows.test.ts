import { describe, expect, it } from 'vitest'
import {
  activeBlackout,
  cronProblem,
  isOpen,
  lastClosing,
  nextOpening,
  rotationAllowedAt,
  windowContaining,
  windowsApply,
  type BlackoutSpec,
  type WindowSpec,
} from './windows.js'

const at = (text: string) => new Date(text)
const weekend: WindowSpec = { cron: '0 2 * * SAT', duration: '6h', timezone: 'UTC' }
const nightly: WindowSpec = { cron: '0 22 * * *', duration: '4h', timezone: 'UTC' }
const paris: WindowSpec = { cron: '30 2 * * *', duration: '1h', timezone: 'Europe/Paris' }

describe('change windows', () => {
  it('opens "0 2 * * SAT" + 6h from 02:00 to 08:00 UTC on Saturdays only', () => {
    // 2026-11-28 is a Saturday
    expect(isOpen(weekend, at('2026-11-28T01:59:59Z'))).toBe(false)
    expect(isOpen(weekend, at('2026-11-28T02:00:00Z'))).toBe(true)
    expect(isOpen(weekend, at('2026-11-28T07:59:59Z'))).toBe(true)
    expect(isOpen(weekend, at('2026-11-28T08:00:00Z'))).toBe(false)
    expect(isOpen(weekend, at('2026-11-29T03:00:00Z'))).toBe(false)
    expect(windowContaining(weekend, at('2026-11-28T05:00:00Z'))).toEqual({
      opens: at('2026-11-28T02:00:00Z'),
      closes: at('2026-11-28T08:00:00Z'),
    })
  })

  it('finds the next opening strictly after the given instant', () => {
    expect(nextOpening(weekend, at('2026-11-25T12:00:00Z'))).toEqual(at('2026-11-28T02:00:00Z'))
    expect(nextOpening(weekend, at('2026-11-28T02:00:00Z'))).toEqual(at('2026-12-05T02:00:00Z'))
    expect(lastClosing(weekend, at('2026-11-30T00:00:00Z'))).toEqual(at('2026-11-28T08:00:00Z'))
    expect(lastClosing(weekend, at('2026-11-28T03:00:00Z'))).toBeNull()
  })

  it('keeps a window that spans midnight open into the next day', () => {
    expect(isOpen(nightly, at('2026-06-10T23:30:00Z'))).toBe(true)
    expect(windowContaining(nightly, at('2026-06-11T01:30:00Z'))).toEqual({
      opens: at('2026-06-10T22:00:00Z'),
      closes: at('2026-06-11T02:00:00Z'),
    })
    expect(isOpen(nightly, at('2026-06-11T02:00:00Z'))).toBe(false)
  })

  it('reads the cron in its time zone across DST: a skipped 02:30 opens at 03:00 CEST, a repeated one opens once', () => {
    // Europe/Paris springs forward on 2026-03-29 (02:00 → 03:00) and falls back on 2026-10-25
    expect(nextOpening(paris, at('2026-03-27T12:00:00Z'))).toEqual(at('2026-03-28T01:30:00Z')) // 02:30 CET
    expect(nextOpening(paris, at('2026-03-28T12:00:00Z'))).toEqual(at('2026-03-29T01:00:00Z')) // 03:00 CEST
    expect(nextOpening(paris, at('2026-03-29T12:00:00Z'))).toEqual(at('2026-03-30T00:30:00Z')) // 02:30 CEST
    const fallDay = nextOpening(paris, at('2026-10-24T12:00:00Z'))
    expect(fallDay).toEqual(at('2026-10-25T00:30:00Z')) // the first 02:30 (CEST)
    expect(nextOpening(paris, fallDay as Date)).toEqual(at('2026-10-26T01:30:00Z')) // next day, CET
    // the duration is elapsed time: one real hour after opening, whatever the clocks did
    expect(isOpen(paris, at('2026-03-29T01:59:59Z'))).toBe(true)
    expect(isOpen(paris, at('2026-03-29T02:00:00Z'))).toBe(false)
  })

  it('merges overlapping openings into one span', () => {
    const hourly: WindowSpec = { cron: '0 * * * *', duration: '90m', timezone: 'UTC' }
    const span = windowContaining(hourly, at('2026-01-01T00:10:00Z'))
    expect(span?.opens).toEqual(at('2026-01-01T00:00:00Z'))
    expect(span !== null && span.closes.getTime() - span.opens.getTime()).toBeGreaterThan(86_400_000)
  })

  it('names an unusable cron expression or time zone', () => {
    expect(cronProblem({ cron: '99 * * * *', duration: '1h', timezone: 'UTC' })).toMatch(
      /cron "99 \* \* \* \*"/,
    )
    expect(cronProblem(weekend)).toBeNull()
    expect(() => isOpen({ cron: '0 25 * * *', duration: '1h', timezone: 'UTC' }, new Date())).toThrow(
      /not usable/,
    )
  })
})

describe('blackouts', () => {
  const blackouts: BlackoutSpec[] = [
    { from: '2026-12-20T00:00:00Z', to: '2027-01-03T00:00:00Z', reason: 'year-end freeze' },
    { from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z', reason: 'audit', keys: ['payments-dek'] },
  ]

  it('applies a global blackout to every key and a scoped one only to its keys, end exclusive', () => {
    expect(activeBlackout(blackouts, 'other', at('2026-12-25T00:00:00Z'))?.reason).toBe('year-end freeze')
    expect(activeBlackout(blackouts, 'payments-dek', at('2026-12-01T12:00:00Z'))?.reason).toBe('audit')
    expect(activeBlackout(blackouts, 'other', at('2026-12-01T12:00:00Z'))).toBeNull()
    expect(activeBlackout(blackouts, 'other', at('2027-01-03T00:00:00Z'))).toBeNull()
  })
})

describe('rotationAllowedAt', () => {
  const windows = { weekend }
  const decide = (keyId: string, when: string, blackouts: BlackoutSpec[] = [], windowName = 'weekend') =>
    rotationAllowedAt({ keyId, windowName, windows, blackouts, at: at(when) })

  it('allows a rotation inside the window and says when the window closes', () => {
    expect(decide('k', '2026-11-28T03:00:00Z')).toEqual({
      allowed: true,
      closesAt: at('2026-11-28T08:00:00Z'),
    })
  })

  it('refuses outside the window and names the next opening', () => {
    const decision = decide('k', '2026-11-25T12:00:00Z')
    expect(decision).toEqual({
      allowed: false,
      nextAllowedAt: at('2026-11-28T02:00:00Z'),
      reason:
        'key k may rotate only in window weekend (cron "0 2 * * SAT", 6h, UTC): next opening 2026-11-28T02:00:00Z',
    })
  })

  it('skips openings that fall inside a blackout', () => {
    const freeze = [{ from: '2026-11-27T00:00:00Z', to: '2026-12-01T00:00:00Z', reason: 'freeze' }]
    const decision = decide('k', '2026-11-25T12:00:00Z', freeze)
    expect(decision).toMatchObject({ allowed: false, nextAllowedAt: at('2026-12-05T02:00:00Z') })
    expect(decision.allowed === false && decision.reason).toContain(
      'next opening 2026-11-28T02:00:00Z; next allowed 2026-12-05T02:00:00Z',
    )
  })

  it('allows the rest of a window once a blackout that overlaps its start ends', () => {
    const freeze = [{ from: '2026-11-28T00:00:00Z', to: '2026-11-28T04:00:00Z', reason: 'migration' }]
    const decision = decide('k', '2026-11-28T03:00:00Z', freeze)
    expect(decision).toEqual({
      allowed: false,
      nextAllowedAt: at('2026-11-28T04:00:00Z'),
      reason:
        "key k is in blackout 'migration' (all keys) until 2026-11-28T04:00:00Z; next allowed 2026-11-28T04:00:00Z",
    })
  })

  it('ends the permission early when a blackout starts inside the window', () => {
    const freeze = [{ from: '2026-11-28T06:00:00Z', to: '2026-11-30T00:00:00Z', reason: 'x', keys: ['k'] }]
    expect(decide('k', '2026-11-28T03:00:00Z', freeze)).toEqual({
      allowed: true,
      closesAt: at('2026-11-28T06:00:00Z'),
    })
  })

  it('without a window refuses only in a blackout of the key', () => {
    const freeze = [
      { from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z', reason: 'audit', keys: ['k'] },
    ]
    const none = (keyId: string) =>
      rotationAllowedAt({ keyId, windows, blackouts: freeze, at: at('2026-12-01T10:00:00Z') })
    expect(none('k')).toMatchObject({ allowed: false, nextAllowedAt: at('2026-12-02T00:00:00Z') })
    expect(none('other')).toEqual({ allowed: true, closesAt: null })
  })

  it('refuses a key whose window is not defined, with no next time', () => {
    expect(decide('k', '2026-11-28T03:00:00Z', [], 'holidays')).toEqual({
      allowed: false,
      nextAllowedAt: null,
      reason: 'key k names change window "holidays", which does not exist (defined: weekend)',
    })
  })

  it('applies windows to manual and scheduled rotations only', () => {
    expect(windowsApply('rotate', 'manual')).toBe(true)
    expect(windowsApply('rotate', 'scheduler')).toBe(true)
    expect(windowsApply('emergency-rotate', 'manual')).toBe(false)
    expect(windowsApply('forward-correct', 'manual')).toBe(false)
    expect(windowsApply('revoke', 'system')).toBe(false)
  })
})
