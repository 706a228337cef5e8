import { DependentError } from './types.js'
import type { DependentRole, LoadedVersion, Notice, ProbeAnswer } from './types.js'

/** Loads one version's material (or nothing, for a service that holds none) before it is accepted. */
export type VersionLoader = (version: number) => Promise<LoadedVersion | undefined>

/** Called before the state changes: a hook that throws leaves the state as it was and fails the notice. */
export interface VersionHooks {
  onStaged?(version: number, material?: LoadedVersion): void | Promise<void>
  onPromoted?(version: number): void | Promise<void>
  onRetired?(version: number): void | Promise<void>
  onRevoked?(version: number): void | Promise<void>
  onCompromised?(version: number): void | Promise<void>
}

/** Encrypting and signing services use one version; the others only accept (`active: null`). */
export function usesActive(role: DependentRole): boolean {
  return role === 'encrypt' || role === 'sign'
}

/**
 * The versions one service accepts and uses, and how each notice changes them. Every change is
 * idempotent (keyrotor retries a notice whose answer it did not get) and happens only after the
 * material is loaded and the hook has run, so what the probe reports is always true.
 */
export class VersionState {
  readonly #accepted = new Map<number, LoadedVersion | undefined>()
  /** Versions this service let go of at `retired`: a later `revoked` still runs onRevoked for them. */
  readonly #retired = new Set<number>()
  readonly #revoked = new Set<number>()
  readonly #providerRefs = new Map<number, string>()
  #active: number | null = null

  constructor(
    private readonly key: string,
    private readonly role: DependentRole,
    private readonly load: VersionLoader,
    private readonly hooks: VersionHooks,
  ) {}

  probeAnswer(): ProbeAnswer {
    const accepts = [...this.#accepted.keys()].sort((a, b) => a - b)
    return { key: this.key, accepts, active: this.#active }
  }

  material(version: number): LoadedVersion | undefined {
    return this.#accepted.get(version)
  }

  /** The backend's name of a version, as the last notice about it said. */
  providerRef(version: number): string | undefined {
    return this.#providerRefs.get(version)
  }

  get active(): number | null {
    return this.#active
  }

  /** Replaces the whole state (bootstrap). */
  reset(accepted: Map<number, LoadedVersion | undefined>, active: number | null): void {
    this.#accepted.clear()
    this.#retired.clear()
    this.#revoked.clear()
    for (const [version, material] of accepted) this.#accepted.set(version, material)
    this.#active = usesActive(this.role) ? active : null
  }

  async apply(notice: Notice): Promise<void> {
    if (notice.key !== this.key) {
      throw new DependentError('WRONG_KEY', `this service uses key ${this.key}, not ${notice.key}`)
    }
    const v = notice.version
    if (notice.providerRef !== undefined) this.#providerRefs.set(v, notice.providerRef)
    switch (notice.event) {
      case 'key.version.staged':
        return this.stage(v)
      case 'key.version.promoted':
        // A promotion implies the version is usable here: a missed staged notice is made up for.
        await this.stage(v)
        if (usesActive(this.role) && this.#active === v) return
        await hook('onPromoted', () => this.hooks.onPromoted?.(v))
        if (usesActive(this.role)) this.#active = v
        return
      case 'key.version.retired':
        if (this.#active === v) {
          throw new DependentError('IN_USE', `v${v} is this service's active version; promote another first`)
        }
        if (!this.#accepted.has(v)) return
        await hook('onRetired', () => this.hooks.onRetired?.(v))
        this.#accepted.delete(v)
        this.#retired.add(v)
        return
      case 'key.version.revoked':
        // retired comes first in a revoke run, so the version is usually no longer accepted here
        if (this.#revoked.has(v)) return
        if (!this.#accepted.has(v) && this.#active !== v && !this.#retired.has(v)) return
        await hook('onRevoked', () => this.hooks.onRevoked?.(v))
        this.drop(v)
        this.#retired.delete(v)
        this.#revoked.add(v)
        return
      case 'key.compromised':
        await hook('onCompromised', () => this.hooks.onCompromised?.(v))
        // Never encrypt or sign with it again. A forged signature is possible with a leaked signing
        // key, so signature services stop verifying with it too; old ciphertexts stay readable.
        if (this.#active === v) this.#active = null
        if (this.role === 'sign' || this.role === 'verify') this.#accepted.delete(v)
        return
    }
  }

  private async stage(v: number): Promise<void> {
    if (this.#accepted.has(v)) return
    const material = await this.load(v)
    await hook('onStaged', () => this.hooks.onStaged?.(v, material))
    this.#accepted.set(v, material)
  }

  private drop(v: number): void {
    this.#accepted.delete(v)
    if (this.#active === v) this.#active = null
  }
}

async function hook(name: string, run: () => void | Promise<void> | undefined): Promise<void> {
  try {
    await run()
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new DependentError('HOOK_FAILED', `${name} failed: ${message}`, { cause: error })
  }
}
