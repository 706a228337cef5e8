import { KeyrotorError, type FailureClass } from '../errors.js'
import type { Phase } from './phases.js'

export const ALERT_TYPES = [
  'rotation_failed',
  'rotation_timeout',
  'dependency_not_ready',
  'concurrent_rotation',
  'unexpected_transition',
  'partial_execution',
  'halt_engaged',
  'validation_failed',
] as const
export type AlertType = (typeof ALERT_TYPES)[number]

export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number]

/** open → acknowledged → resolved; `resolve` may also close an alert nobody acknowledged. */
export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const
export type AlertState = (typeof ALERT_STATES)[number]

const ARROWS: Record<AlertState, readonly AlertState[]> = {
  open: ['acknowledged', 'resolved'],
  acknowledged: ['resolved'],
  // a resolved alert stays resolved: the next occurrence raises a new alert
  resolved: [],
}

export function canTransitionAlert(from: AlertState, to: AlertState): boolean {
  return ARROWS[from].includes(to)
}

/**
 * Whether an acknowledgement of an alert in `state` changes it: yes when open, no (a no-op) when
 * acknowledged already; ILLEGAL_TRANSITION when it is resolved.
 */
export function acknowledges(state: AlertState, alert: string, by: string): boolean {
  if (state === 'acknowledged') return false
  if (!canTransitionAlert(state, 'acknowledged')) {
    throw new KeyrotorError('ILLEGAL_TRANSITION', `alert ${alert} is ${state}; ${by} cannot acknowledge it`)
  }
  return true
}

/** The alert a failed (not partial) run raises: by its phase first, then by its failure class. */
export function alertTypeOfFailure(failureClass: FailureClass, phase: Phase): AlertType {
  if (phase === 'validate') return 'validation_failed'
  if (failureClass === 'dependency_not_ready') return 'dependency_not_ready'
  if (failureClass === 'timeout') return 'rotation_timeout'
  return 'rotation_failed'
}
