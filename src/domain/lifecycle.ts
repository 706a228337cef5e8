import { KeyrotorError } from '../errors.js'

/** DESIGN §2: the states of one version of a key. `compromised` is a flag, not a state. */
export const VERSION_STATES = ['pending', 'active', 'retiring', 'disabled', 'destroyed'] as const
export type VersionState = (typeof VERSION_STATES)[number]

/** Why a transition is taken: re-enabling a disabled version is allowed only to forward correction. */
export type TransitionCause = 'phase' | 'forward-correction'

const ARROWS: Record<VersionState, readonly VersionState[]> = {
  pending: ['active', 'destroyed'],
  active: ['retiring'],
  retiring: ['disabled'],
  disabled: ['destroyed', 'retiring'],
  destroyed: [],
}

export function canTransition(
  from: VersionState,
  to: VersionState,
  cause: TransitionCause = 'phase',
): boolean {
  if (!ARROWS[from].includes(to)) return false
  if (from === 'disabled' && to === 'retiring') return cause === 'forward-correction'
  return true
}

/** Returns the next state, or throws ILLEGAL_TRANSITION naming both ends. */
export function transitionVersion(
  from: VersionState,
  to: VersionState,
  cause: TransitionCause = 'phase',
): VersionState {
  if (!canTransition(from, to, cause)) {
    const why =
      from === 'disabled' && to === 'retiring' ? ' (re-enabling is reserved to forward correction)' : ''
    throw new KeyrotorError('ILLEGAL_TRANSITION', `version state ${from} → ${to} is not allowed${why}`)
  }
  return to
}

/** Versions a dependent may still decrypt or verify with. */
export function isUsable(state: VersionState): boolean {
  return state === 'pending' || state === 'active' || state === 'retiring'
}

/** The state a provider reports for a version in a given store state. */
export type ProviderVersionState = 'enabled' | 'disabled' | 'destroyed'

export function expectedProviderState(state: VersionState): ProviderVersionState {
  if (state === 'disabled') return 'disabled'
  if (state === 'destroyed') return 'destroyed'
  return 'enabled'
}
