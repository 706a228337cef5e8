import type { RequestListener } from 'node:http'
import { createNoticeHandler, listenOn } from './http-handler.js'
import type { Listening } from './http-handler.js'
import { fetchJwks, fetchMaterial, loadVersion, versionOfKid } from './material.js'
import { DEFAULT_TOLERANCE_SECONDS } from '../dependents/signature.js'
import { headerOf, parseNotice, SIGNATURE_HEADER, verifyNoticeSignature } from './notice.js'
import { DependentError, STATUS_OF } from './types.js'
import type {
  DependentRole,
  LoadedVersion,
  MaterialSource,
  Notice,
  NoticeHeaders,
  NoticeResult,
  ProbeAnswer,
} from './types.js'
import { VersionState, usesActive } from './version-state.js'
import type { VersionHooks, VersionLoader } from './version-state.js'

/** Options of {@link createDependent}. */
export interface DependentOptions extends VersionHooks {
  /** The keyrotor key id this service uses, e.g. `payments-dek`. */
  key: string
  role: DependentRole
  /** The notice secret (the value behind the dependent's `notify.secretEnv`). Without it, notices are not verified: development only. */
  secret?: string
  /** keyrotor's base URL; needed to fetch material or the JWKS. */
  keyrotorUrl?: string
  /** A consumer token bound to the key; needed for `materialSource: 'material'`. */
  token?: string
  /** PEM of the CA (or self-signed certificate) to trust when keyrotorUrl is https://. */
  ca?: string | Buffer
  /** Default: `jwks` for the `verify` role, `material` otherwise. */
  materialSource?: MaterialSource
  /** Accepted clock difference of a notice's timestamp. Default 300 s. */
  toleranceSeconds?: number
  /** The clock in milliseconds; for tests. */
  now?: () => number
}

/** What bootstrap loads: the active version (encrypt/sign) and any other versions still accepted. */
export type BootstrapOptions = number | { active?: number; accepts?: number[] }

/** One embedded dependent: its version state, its notice handling and its HTTP endpoints. */
export interface Dependent {
  readonly key: string
  readonly role: DependentRole
  /** The probe answer: `{key, accepts, active}`. */
  probeAnswer(): ProbeAnswer
  /** Verifies (when a secret is set), parses and applies a notice; `{status: 200}` once applied. */
  handleNotice(rawBody: string, headers: NoticeHeaders): Promise<NoticeResult>
  /** Applies an already verified notice; throws DependentError. Notices are applied one at a time. */
  apply(notice: Notice): Promise<void>
  /** Loads the current state at start: the JWKS for `jwks`, else the given versions. Replaces the state. */
  bootstrap(options?: BootstrapOptions): Promise<void>
  /** The material of an accepted version, or undefined (not accepted, or a `none` source). */
  materialFor(version: number): LoadedVersion | undefined
  /** The material for a JWT's `kid` header (`{key}.v{n}`), if that version is accepted. */
  materialForKid(kid: string | undefined): LoadedVersion | undefined
  /**
   * The backend's name of a version (HSM label, KMS key ARN, hook id) as keyrotor's notices carry
   * it: what a service of a non-exportable backend uses the version by. Undefined until a notice
   * about that version named it.
   */
  providerRef(version: number): string | undefined
  /** The active version's material; throws DependentError `NO_ACTIVE_VERSION` when there is none. */
  activeMaterial(): LoadedVersion
  /** A node:http listener serving `GET /keyrotor/probe` and `POST /keyrotor/notify`. */
  readonly handler: RequestListener
  /** Serves {@link handler} on `host:port` (default 127.0.0.1 and an ephemeral port). */
  listen(port?: number, host?: string): Promise<Listening>
  /** Stops the server started by {@link listen}, if any. */
  close(): Promise<void>
}

/** Creates a dependent for a service that uses one keyrotor key. */
export function createDependent(options: DependentOptions): Dependent {
  const source = options.materialSource ?? (options.role === 'verify' ? 'jwks' : 'material')
  checkOptions(options, source)
  const { key, role } = options
  const keyrotorUrl = options.keyrotorUrl ?? ''
  const token = options.token ?? ''
  const ca = options.ca === undefined ? {} : { ca: options.ca }
  const loader: VersionLoader = async (version) => {
    if (source === 'none') return undefined
    if (source === 'material') {
      const jwk = await fetchMaterial({ keyrotorUrl, token, key, version, ...ca })
      return loadVersion(key, version, jwk)
    }
    const found = (await jwksVersions()).get(version)
    if (found === undefined)
      throw new DependentError('FETCH_FAILED', `the JWKS of ${key} has no v${version} (yet)`)
    return found
  }
  const jwksVersions = async () => {
    const { keys } = await fetchJwks({ keyrotorUrl, key, ...ca })
    const versions = new Map<number, LoadedVersion>()
    for (const jwk of keys) {
      const version = versionOfKid(key, jwk.kid)
      if (version !== undefined) versions.set(version, loadVersion(key, version, jwk))
    }
    return versions
  }
  const state = new VersionState(key, role, loader, options)
  // Notices and bootstrap run one at a time: a promotion must not overtake the staging it follows.
  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const next = queue.then(task, task)
    queue = next.catch(() => undefined)
    return next
  }
  const replays = replayGuard(
    ((options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS) + 1) * 1000,
    options.now ?? Date.now,
  )
  let server: Listening | undefined

  const dependent: Dependent = {
    key,
    role,
    probeAnswer: () => state.probeAnswer(),
    apply: (notice) => serial(() => state.apply(notice)),
    async handleNotice(rawBody, headers) {
      try {
        const signature = headerOf(headers, SIGNATURE_HEADER)
        if (options.secret !== undefined) {
          verifyNoticeSignature(options.secret, rawBody, headers, {
            toleranceSeconds: options.toleranceSeconds,
            now: options.now,
          })
          if (signature !== undefined && replays.seen(signature)) {
            throw new DependentError('BAD_SIGNATURE', 'notice signature refused: replayed')
          }
        }
        const notice = parseNotice(rawBody)
        await serial(async () => {
          // checked again in the queue: two copies sent at once must not both pass
          if (signature !== undefined && options.secret !== undefined && replays.seen(signature)) {
            throw new DependentError('BAD_SIGNATURE', 'notice signature refused: replayed')
          }
          await state.apply(notice)
          if (signature !== undefined && options.secret !== undefined) replays.remember(signature)
        })
        return { status: 200 }
      } catch (error) {
        if (error instanceof DependentError) return { status: STATUS_OF[error.code], error: error.message }
        return { status: 500, error: 'the notice could not be applied' }
      }
    },
    bootstrap: (boot = {}) =>
      serial(async () => {
        const { active, accepts = [] } = typeof boot === 'number' ? { active: boot } : boot
        const wanted = [...new Set(active === undefined ? accepts : [...accepts, active])]
        const loaded = new Map<number, LoadedVersion | undefined>()
        if (source === 'jwks') {
          for (const [version, material] of await jwksVersions()) loaded.set(version, material)
        }
        for (const version of wanted) if (!loaded.has(version)) loaded.set(version, await loader(version))
        if (loaded.size === 0 && source !== 'jwks') {
          throw new DependentError(
            'NOT_LOADED',
            'bootstrap needs the versions to load: pass the active version',
          )
        }
        if (usesActive(role) && active === undefined) {
          throw new DependentError(
            'NO_ACTIVE_VERSION',
            `a ${role} service needs its active version at bootstrap`,
          )
        }
        state.reset(loaded, active ?? null)
      }),
    materialFor: (version) => state.material(version),
    providerRef: (version) => state.providerRef(version),
    materialForKid: (kid) => {
      const version = versionOfKid(key, kid)
      return version === undefined ? undefined : state.material(version)
    },
    activeMaterial() {
      const active = state.active
      const material = active === null ? undefined : state.material(active)
      if (material === undefined)
        throw new DependentError('NO_ACTIVE_VERSION', `no active version of ${key} is loaded`)
      return material
    },
    handler: createNoticeHandler(() => dependent),
    async listen(port = 0, host = '127.0.0.1') {
      if (server !== undefined)
        throw new DependentError('LISTEN_FAILED', 'this dependent is already listening')
      server = await listenOn(dependent.handler, port, host)
      return server
    },
    async close() {
      const closing = server
      server = undefined
      await closing?.close()
    },
  }
  return dependent
}

function checkOptions(options: DependentOptions, source: MaterialSource): void {
  if (source === 'jwks' && usesActive(options.role)) {
    throw new TypeError(`a ${options.role} service needs secret or private material, not the public JWKS`)
  }
  if (source !== 'none' && (options.keyrotorUrl === undefined || options.keyrotorUrl === '')) {
    throw new TypeError(`materialSource ${source} needs keyrotorUrl`)
  }
  if (source === 'material' && (options.token === undefined || options.token === '')) {
    throw new TypeError(
      'materialSource material needs a consumer token (keyrotor tokens create --role consumer --key KEY)',
    )
  }
}

/**
 * Signatures of notices already applied, kept as long as their timestamp is fresh: a captured
 * notice replayed within the tolerance (say a `staged` for a version retired since) gets 401.
 */
function replayGuard(keepMs: number, now: () => number) {
  const applied = new Map<string, number>()
  return {
    seen: (signature: string) => (applied.get(signature) ?? 0) > now(),
    remember(signature: string) {
      for (const [known, until] of applied) if (until <= now()) applied.delete(known)
      applied.set(signature, now() + keepMs)
    },
  }
}
