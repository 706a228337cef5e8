import { KeyrotorError } from '../errors.js'

export const RUN_KINDS = ['rotate', 'emergency-rotate', 'revoke', 'forward-correct'] as const
export type RunKind = (typeof RUN_KINDS)[number]

export const RUN_STATES = [
  'queued',
  'awaiting_approval',
  'running',
  'succeeded',
  'failed',
  'halted',
  'cancelled',
  'rejected',
] as const
export type RunState = (typeof RUN_STATES)[number]

/** States in which a run still holds its key: at most one per key (DESIGN §4.1). */
export const NON_TERMINAL_RUN_STATES = [
  'queued',
  'awaiting_approval',
  'running',
] as const satisfies readonly RunState[]

export const TRIGGERS = ['manual', 'scheduler', 'system'] as const
export type Trigger = (typeof TRIGGERS)[number]

export function isTerminal(state: RunState): boolean {
  return !(NON_TERMINAL_RUN_STATES as readonly RunState[]).includes(state)
}

const ARROWS: Record<RunState, readonly RunState[]> = {
  awaiting_approval: ['queued', 'rejected', 'cancelled'],
  queued: ['running', 'cancelled', 'failed', 'halted'],
  running: ['succeeded', 'failed', 'halted', 'cancelled'],
  // a failed run is queued again only by retry, after a passed verify (DESIGN §4.6)
  failed: ['queued'],
  // a halted run stays as it stopped (preserved); a separate forward-correct run repairs the key
  halted: [],
  succeeded: [],
  cancelled: [],
  rejected: [],
}

export function canTransitionRun(from: RunState, to: RunState): boolean {
  return ARROWS[from].includes(to)
}

export function transitionRun(from: RunState, to: RunState): RunState {
  if (!canTransitionRun(from, to)) {
    throw new KeyrotorError('ILLEGAL_TRANSITION', `run state ${from} → ${to} is not allowed`)
  }
  return to
}

/** Elevated priority: emergency before manual before scheduled (lower number runs first). */
export function priorityOf(kind: RunKind, trigger: Trigger): number {
  if (kind === 'emergency-rotate') return 0
  if (kind === 'forward-correct') return 1
  return trigger === 'manual' ? 2 : 3
}
