import type {
  DependentClient,
  DependentTarget,
  Notice,
  ProbeAnswer,
} from '../src/dependents/dependent-client.js'

/**
 * Dependents that live in this process and answer at once, so that the benchmark measures the
 * orchestrator (engine, store, provider), not the network or the services. They stand in only for
 * the remote services; they follow the contract a real dependent follows (src/dependent-sdk/):
 * staged v → accepts v; promoted v → uses v; retired or revoked v → lets go of v.
 */
export function createInProcessDependents(options: {
  /** Dependents that only decrypt or verify: they never have an active version. */
  verifyOnly(target: DependentTarget): boolean
}): DependentClient {
  const states = new Map<string, { accepts: number[]; active: number | null }>()

  // every dependent starts on version 1, the one enrollment creates
  const stateOf = (target: DependentTarget) => {
    const id = `${target.key}\u0000${target.name}`
    let state = states.get(id)
    if (state === undefined) {
      state = { accepts: [1], active: options.verifyOnly(target) ? null : 1 }
      states.set(id, state)
    }
    return state
  }

  return {
    async probe(target: DependentTarget, signal?: AbortSignal): Promise<ProbeAnswer> {
      signal?.throwIfAborted()
      const { accepts, active } = stateOf(target)
      // a copy: the engine must not be able to change a dependent's state by holding its answer
      return { key: target.key, accepts: [...accepts], active }
    },

    async notify(target: DependentTarget, notice: Notice, signal?: AbortSignal): Promise<void> {
      signal?.throwIfAborted()
      const state = stateOf(target)
      const v = notice.version
      switch (notice.event) {
        case 'key.version.staged':
          if (!state.accepts.includes(v)) state.accepts = [...state.accepts, v].sort((a, b) => a - b)
          break
        case 'key.version.promoted':
          if (!state.accepts.includes(v)) state.accepts = [...state.accepts, v].sort((a, b) => a - b)
          if (!options.verifyOnly(target)) state.active = v
          break
        case 'key.version.retired':
        case 'key.version.revoked':
          state.accepts = state.accepts.filter((a) => a !== v)
          if (state.active === v) state.active = null
          break
        case 'key.compromised':
          // the notice comes with an emergency rotation; the version itself goes with revoked
          break
      }
    },
  }
}
