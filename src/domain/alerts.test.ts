import { describe, expect, it } from 'vitest'
import { FAILURE_CLASSES } from '../errors.js'
import { acknowledges, ALERT_STATES, alertTypeOfFailure, canTransitionAlert } from './alerts.js'

describe('alert states', () => {
  it('moves open → acknowledged → resolved, open → resolved, and never out of resolved', () => {
    const arrows = ALERT_STATES.flatMap((from) =>
      ALERT_STATES.filter((to) => canTransitionAlert(from, to)).map((to) => `${from}→${to}`),
    )
    expect(arrows).toEqual(['open→acknowledged', 'open→resolved', 'acknowledged→resolved'])
  })

  it('acknowledges an open alert, takes a second acknowledgement as a no-op and refuses a resolved one', () => {
    expect(acknowledges('open', 'alr_1', 'ann')).toBe(true)
    expect(acknowledges('acknowledged', 'alr_1', 'ann')).toBe(false)
    expect(() => acknowledges('resolved', 'alr_1', 'ann')).toThrow(
      expect.objectContaining({
        code: 'ILLEGAL_TRANSITION',
        message: 'alert alr_1 is resolved; ann cannot acknowledge it',
      }),
    )
  })
})

describe('the alert of a failed run', () => {
  it('is validation_failed for any failure in validate', () => {
    for (const failureClass of FAILURE_CLASSES) {
      expect(alertTypeOfFailure(failureClass, 'validate')).toBe('validation_failed')
    }
  })

  it('is named by the failure class elsewhere: not ready, timeout, or rotation_failed', () => {
    expect(alertTypeOfFailure('dependency_not_ready', 'distribute')).toBe('dependency_not_ready')
    expect(alertTypeOfFailure('timeout', 'confirm')).toBe('rotation_timeout')
    expect(alertTypeOfFailure('provider_error', 'create')).toBe('rotation_failed')
    expect(alertTypeOfFailure('security', 'preflight')).toBe('rotation_failed')
  })
})
