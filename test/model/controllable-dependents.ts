import type {
  DependentClient,
  DependentTarget,
  Notice,
  ProbeAnswer,
} from '../../src/dependents/dependent-client.js'
import { notReady } from '../../src/dependents/probe-answer.js'

/**
 * How a dependent behaves now:
 * - `healthy` follows the contract (src/dependent-sdk/): staged v → accepts v; promoted v → uses v;
 *   retired or revoked v → lets go of v.
 * - `unreachable` answers neither probes nor notices (every call fails at once).
 * - `hangs` accepts the connection and never answers: each call ends at the client's request
 *   timeout or when the caller aborts (a crash), whichever comes first.
 * - `never-stages`, `never-promotes`, `never-retires` acknowledge every notice but sit on the
 *   staged, promoted or retired ones: a slow deployment. Healing works the backlog off in order.
 */
export const DEPENDENT_MODES = [
  'healthy',
  'unreachable',
  'hangs',
  'never-stages',
  'never-promotes',
  'never-retires',
] as const
export type DependentMode = (typeof DEPENDENT_MODES)[number]

export interface DependentState {
  key: string
  name: string
  /** Verify-only dependents decrypt or verify but never encrypt or sign: `active` stays null. */
  verifyOnly: boolean
  mode: DependentMode
  accepts: number[]
  active: number | null
  /** Notices acknowledged but not acted on yet (a broken mode sits on them). */
  backlog: Notice[]
}

const SITS_ON: Partial<Record<DependentMode, Notice['event']>> = {
  'never-stages': 'key.version.staged',
  'never-promotes': 'key.version.promoted',
  'never-retires': 'key.version.retired',
}

/**
 * In-memory stand-ins for the remote services that depend on the keys, typed against the real
 * DependentClient so the engine cannot tell them from the HTTP client. Their state outlives a
 * keyrotor instance (a crash of keyrotor does not reset the services), and a test changes how
 * each behaves. Every dependent starts on version 1, the one enrollment creates.
 */
export class ControllableDependents {
  readonly client: DependentClient
  private readonly states = new Map<string, DependentState>()

  constructor(
    declared: readonly { key: string; name: string; verifyOnly: boolean }[],
    /** What the HTTP client's request timeout is to a real dependent: a hanging call ends here. */
    private readonly requestTimeoutMs: number,
  ) {
    for (const d of declared) {
      this.states.set(idOf(d.key, d.name), {
        ...d,
        mode: 'healthy',
        accepts: [1],
        active: d.verifyOnly ? null : 1,
        backlog: [],
      })
    }
    this.client = {
      probe: (target, signal) => this.probe(target, signal),
      notify: (target, notice, signal) => this.notify(target, notice, signal),
    }
  }

  /** A snapshot of every dependent (copies: the caller cannot change them). */
  all(): DependentState[] {
    return [...this.states.values()].map((s) => ({ ...s, accepts: [...s.accepts], backlog: [...s.backlog] }))
  }

  setMode(key: string, name: string, mode: DependentMode): void {
    const state = this.stateOf(key, name)
    state.mode = mode
    if (mode === 'healthy') {
      for (const notice of state.backlog.splice(0)) apply(state, notice)
    }
  }

  private stateOf(key: string, name: string): DependentState {
    const state = this.states.get(idOf(key, name))
    if (state === undefined) throw new Error(`no dependent ${name} of ${key} is declared in the model`)
    return state
  }

  private async probe(target: DependentTarget, signal?: AbortSignal): Promise<ProbeAnswer> {
    const state = this.stateOf(target.key, target.name)
    await this.reach(state, target, 'probe', signal)
    // a copy: the engine must not be able to change a dependent's state by holding its answer
    return { key: target.key, accepts: [...state.accepts], active: state.active }
  }

  private async notify(target: DependentTarget, notice: Notice, signal?: AbortSignal): Promise<void> {
    const state = this.stateOf(target.key, target.name)
    await this.reach(state, target, 'notice', signal)
    if (SITS_ON[state.mode] === notice.event) state.backlog.push(notice)
    else apply(state, notice)
  }

  /** What the network does to one call: nothing, a refusal, or silence until a timeout or abort. */
  private async reach(
    state: DependentState,
    target: DependentTarget,
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    signal?.throwIfAborted()
    if (state.mode === 'unreachable') throw notReady(target, `could not be reached for its ${what}: refused`)
    if (state.mode !== 'hangs') return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        reject(notReady(target, `did not answer its ${what} within ${this.requestTimeoutMs} ms`))
      }, this.requestTimeoutMs)
      const onAbort = () => {
        clearTimeout(timer)
        // the caller's own reason (its abort), as the HTTP client rethrows it
        const reason: unknown = signal?.reason
        reject(reason instanceof Error ? reason : new Error(String(reason)))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

function apply(state: DependentState, notice: Notice): void {
  const v = notice.version
  switch (notice.event) {
    case 'key.version.staged':
      if (!state.accepts.includes(v)) state.accepts = [...state.accepts, v].sort((a, b) => a - b)
      break
    case 'key.version.promoted':
      if (!state.accepts.includes(v)) state.accepts = [...state.accepts, v].sort((a, b) => a - b)
      // a late promoted notice never moves a dependent back to an older version
      if (!state.verifyOnly && (state.active === null || state.active < v)) state.active = v
      break
    case 'key.version.retired':
    case 'key.version.revoked':
      state.accepts = state.accepts.filter((a) => a !== v)
      if (state.active === v) state.active = null
      break
    case 'key.compromised':
      break
  }
}

function idOf(key: string, name: string): string {
  return `${key}\u0000${name}`
}
