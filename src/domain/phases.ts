import { KeyrotorError } from '../errors.js'
import type { RunKind } from './runs.js'

/** DESIGN §3. A revoke run has its own three phases. */
export const PHASES = [
  'preflight',
  'create',
  'distribute',
  'promote',
  'confirm',
  'validate',
  'retire',
  'revoke',
] as const
export type Phase = (typeof PHASES)[number]

const ROTATE: readonly Phase[] = ['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate']
const REVOKE: readonly Phase[] = ['preflight', 'retire', 'revoke']
// forward correction finishes a promotion that stopped half-way: nothing is created or staged anew
const FORWARD_CORRECT: readonly Phase[] = ['preflight', 'promote', 'confirm', 'validate']

export function phasesOf(kind: RunKind): readonly Phase[] {
  if (kind === 'revoke') return REVOKE
  if (kind === 'forward-correct') return FORWARD_CORRECT
  return ROTATE
}

export function firstPhase(kind: RunKind): Phase {
  return phasesOf(kind)[0] as Phase
}

/** The phase after `phase` in a run of `kind`, or null when it was the last. */
export function nextPhase(kind: RunKind, phase: Phase): Phase | null {
  const list = phasesOf(kind)
  const index = list.indexOf(phase)
  if (index < 0) throw new KeyrotorError('ILLEGAL_TRANSITION', `phase ${phase} is not part of a ${kind} run`)
  return list[index + 1] ?? null
}

/** Phases that change key state at the provider or in the store. */
export function isMutating(phase: Phase): boolean {
  return phase === 'create' || phase === 'promote' || phase === 'revoke'
}

/**
 * A run stopped in this window has moved the alias but not yet seen every dependent follow:
 * partial execution (DESIGN §4.7). Before it, nothing a user relies on has changed.
 */
export function isPastPointOfNoReturn(kind: RunKind, phase: Phase): boolean {
  if (kind === 'revoke') return phase === 'revoke'
  const list = phasesOf(kind)
  return list.indexOf(phase) >= list.indexOf('promote')
}

/**
 * A run that stops here, failing, is partial execution (DESIGN §4.7): between promote and the end
 * of confirm the alias has moved but dependents may not have followed. A failed validate is not
 * (every dependent confirmed), nor is any revoke (a failed one revokes nothing).
 */
export function isPartialExecution(kind: RunKind, phase: Phase): boolean {
  if (kind === 'revoke') return false
  return isPastPointOfNoReturn(kind, phase) && phase !== 'validate'
}
