import type { Logger } from '../observability/logger.js'
import type { Notice, ProbeAnswer } from '../dependents/dependent-client.js'
import { DependentError } from '../dependent-sdk/types.js'
import type { AgentKeyConfig } from './agent-config.js'
import { loadState, saveState, type KeyState } from './agent-state.js'
import { fetchVersion } from './fetch-version.js'
import {
  contentOf,
  currentTarget,
  fileExists,
  fileNameOf,
  pointCurrent,
  removeFile,
  writeAtomic,
} from './key-files.js'
import { runHook } from './run-command.js'

export interface KeyAgentDeps {
  config: AgentKeyConfig
  keyrotorUrl: string
  token: string | undefined
  timeoutMs: number
  log: Logger
  now?: () => number
}

const usesActive = (config: AgentKeyConfig) => config.role === 'encrypt' || config.role === 'sign'

/**
 * The agent for one key: turns notices into files, `current`, reloads and health checks, and
 * answers probes only with what it handed over and saw the service accept. Every change writes
 * the files first, then reloads and checks, and only then records the new state: a failure leaves
 * the recorded state (what the probe says) as it was.
 */
export class KeyAgent {
  #state: KeyState
  #queue: Promise<unknown> = Promise.resolve()

  private constructor(
    private readonly deps: KeyAgentDeps,
    state: KeyState,
  ) {
    this.#state = state
  }

  /** Loads the saved state, dropping any version whose file is gone, and hands over `initialVersion` on a first start. */
  static async start(deps: KeyAgentDeps): Promise<KeyAgent> {
    const { dir } = deps.config.output
    const state = await loadState(dir, deps.config.key)
    for (const [version, name] of Object.entries(state.files)) {
      if (await fileExists(dir, name)) continue
      deps.log.warn(
        { key: state.key, version: Number(version), file: name },
        'a version file is gone: no longer reported',
      )
      delete state.files[version]
      if (state.active === Number(version)) state.active = null
    }
    const agent = new KeyAgent(deps, state)
    const initial = deps.config.initialVersion
    if (Object.keys(state.files).length === 0 && initial !== undefined) {
      const notice: Notice = {
        event: 'key.version.promoted',
        key: state.key,
        version: initial,
        runId: 'agent-start',
        correlationId: 'agent-start',
        deadline: new Date().toISOString(),
      }
      await agent.apply(notice)
    } else {
      if (Object.keys(state.files).length === 0) {
        deps.log.warn(
          { key: state.key },
          'no version handed over yet: keyrotor refuses to rotate until this service accepts the active one (set initialVersion)',
        )
      }
      await saveState(dir, state)
    }
    return agent
  }

  get key(): string {
    return this.deps.config.key
  }

  probeAnswer(): ProbeAnswer {
    const accepts = Object.keys(this.#state.files)
      .map(Number)
      .sort((a, b) => a - b)
    return { key: this.key, accepts, active: usesActive(this.deps.config) ? this.#state.active : null }
  }

  /** Whether a notice with this signature was already applied (a replay). */
  seen(signature: string): boolean {
    const staleAt = this.#state.seen[signature]
    return staleAt !== undefined && staleAt > this.now()
  }

  /** Applies one verified notice; notices of one key run one at a time. Throws DependentError. */
  apply(notice: Notice, signature?: string, staleAt?: number): Promise<void> {
    const task = async () => {
      if (signature !== undefined && this.seen(signature))
        throw new DependentError('BAD_SIGNATURE', 'notice signature refused: replayed')
      const next = structuredClone(this.#state)
      if (notice.providerRef !== undefined) next.providerRefs[notice.version] = notice.providerRef
      await this.change(next, notice)
      if (signature !== undefined && staleAt !== undefined) next.seen[signature] = staleAt
      for (const [sig, at] of Object.entries(next.seen)) if (at <= this.now()) delete next.seen[sig]
      await saveState(this.deps.config.output.dir, next)
      this.#state = next
    }
    const run = this.#queue.then(task, task)
    this.#queue = run.catch(() => undefined)
    return run
  }

  private async change(next: KeyState, notice: Notice): Promise<void> {
    const v = notice.version
    const { config } = this.deps
    const has = next.files[v] !== undefined
    switch (notice.event) {
      case 'key.version.staged':
        if (!has) await this.stage(next, notice)
        return
      case 'key.version.promoted':
        if (!has) await this.stage(next, notice)
        if (!usesActive(config) || next.active === v) return
        await pointCurrent(config.output.dir, next.files[v] as string)
        await this.deliver(notice, `v${v} is current`)
        next.active = v
        return
      case 'key.version.retired':
        if (next.active === v)
          throw new DependentError('IN_USE', `v${v} is this service's active version; promote another first`)
        if (has) await this.drop(next, notice)
        return
      case 'key.version.revoked':
        if (has) await this.drop(next, notice)
        return
      case 'key.compromised': {
        const signature = config.role === 'sign' || config.role === 'verify'
        if (next.active !== v && !(signature && has)) return
        // never encrypt or sign with it again; a leaked signing key also forges signatures
        if (next.active === v) await pointCurrent(config.output.dir, null)
        next.active = next.active === v ? null : next.active
        if (signature && has) await this.drop(next, notice)
        else await this.deliver(notice, `moved off compromised v${v}`)
        return
      }
    }
  }

  private async stage(next: KeyState, notice: Notice): Promise<void> {
    const { config } = this.deps
    const handed = await fetchVersion({
      keyrotorUrl: this.deps.keyrotorUrl,
      config,
      token: this.deps.token,
      providerRef: notice.providerRef ?? next.providerRefs[notice.version],
      version: notice.version,
    })
    const name = fileNameOf(notice.version, config.output.format, handed.kind)
    const content = contentOf(config.key, notice.version, config.output.format, config.role, handed)
    await writeAtomic(config.output.dir, name, content)
    next.files[notice.version] = name
    if (!usesActive(config)) await this.pointNewest(next)
    await this.deliver(notice, `v${notice.version} written to ${name}`)
  }

  private async drop(next: KeyState, notice: Notice): Promise<void> {
    const { dir } = this.deps.config.output
    const name = next.files[notice.version] as string
    delete next.files[notice.version]
    if (next.active === notice.version) next.active = null
    if ((await currentTarget(dir)) === name) {
      if (usesActive(this.deps.config)) await pointCurrent(dir, null)
      else await this.pointNewest(next)
    }
    await removeFile(dir, name)
    await this.deliver(notice, `v${notice.version} removed`)
  }

  /** Roles without an active version: `current` is the newest version they accept. */
  private async pointNewest(next: KeyState): Promise<void> {
    const newest = Math.max(0, ...Object.keys(next.files).map(Number))
    await pointCurrent(this.deps.config.output.dir, newest === 0 ? null : (next.files[newest] as string))
  }

  /** reload, then healthCheck; both must pass for the change to count. */
  private async deliver(notice: Notice, what: string): Promise<void> {
    const { config, timeoutMs } = this.deps
    const log = this.deps.log.child({
      key: config.key,
      correlationId: notice.correlationId,
      runId: notice.runId,
      event: notice.event,
      version: notice.version,
    })
    for (const hook of ['reload', 'healthCheck'] as const) {
      const argv = config[hook]
      if (argv === undefined) continue
      await runHook(hook, argv, timeoutMs, (result) =>
        log.info(
          {
            hook,
            argv,
            exitCode: result.code,
            signal: result.signal,
            timedOut: result.timedOut,
            output: result.output,
          },
          `${hook} ran`,
        ),
      )
    }
    log.info({}, `${notice.event}: ${what}`)
  }

  private now(): number {
    return (this.deps.now ?? Date.now)()
  }
}
