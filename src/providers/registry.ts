import type { Kysely } from 'kysely'
import type { ProviderSettings } from '../config/provider-settings.js'
import type { Algorithm, ProviderKind } from '../domain/algorithms.js'
import { KeyrotorError } from '../errors.js'
import type { Database } from '../store/tables.js'
import type { Transact } from '../store/transactor.js'
import { createAwsKmsProvider } from './aws-kms/aws-kms-provider.js'
import { createExecProvider } from './exec/exec-provider.js'
import type { KeyProvider } from './key-provider.js'
import { createLocalProvider } from './local/local-provider.js'
import { createPkcs11Provider } from './pkcs11/pkcs11-provider.js'

/** The instance every configuration has without declaring it: the built-in keystore. */
export const LOCAL_INSTANCE = 'local'

/** What every provider factory is given; main.ts builds it once. */
export interface ProviderDeps {
  /** The store and master key the local keystore lives in; absent where only checks run (config validate). */
  store?:
    | {
        db: Kysely<Database>
        masterKey: Buffer
        /** The store's durable transactions, joined to the engine's group commit. */
        transact?: Transact | undefined
      }
    | undefined
  /** keyrotor's environment: where a PIN named by `pinEnv` is read, what an exec hook inherits. */
  env: Readonly<Record<string, string | undefined>>
}

/**
 * A provider as the registry holds it. `check` proves the backend answers (module loads and login
 * works, KMS reachable, the hook runs `list-versions`) and that the backend can do `algorithms`
 * (those of the keys put on the instance); it throws a message naming the problem.
 * `close` releases sessions and clients.
 */
export type ProviderInstance = KeyProvider & {
  check?(algorithms?: readonly Algorithm[]): Promise<void>
  close?(): Promise<void>
}

/** What a check needs of a configured key: which instance it is on, and its algorithm. */
export interface KeyPlacement {
  provider: string
  algorithm: Algorithm
}

/** The settings each type is built from; `local` has none, `vault-transit` is not built in. */
export type SettingsOf<T extends ProviderKind> = T extends 'local' | 'vault-transit'
  ? { type: T }
  : Extract<ProviderSettings, { type: T }>

/** Builds one instance of a provider type from its settings. */
export type ProviderFactory<T extends ProviderKind = ProviderKind> = (
  settings: SettingsOf<T>,
  deps: ProviderDeps,
) => ProviderInstance

/** Every provider type and its factory: a type without an entry does not compile. */
export type ProviderFactories = { readonly [T in ProviderKind]: ProviderFactory<T> }

/** Factories that stand in for providers not built yet, so the registry can tell them apart. */
const placeholders = new WeakSet<object>()

function notAvailable<T extends ProviderKind>(kind: T, why: string): ProviderFactory<T> {
  const factory: ProviderFactory<T> = () => {
    const refuse = async (): Promise<never> => {
      throw new KeyrotorError('PROVIDER_ERROR', `provider type "${kind}" ${why}`)
    }
    return {
      kind,
      createVersion: refuse,
      describeVersion: refuse,
      listVersions: refuse,
      setAlias: refuse,
      getAlias: refuse,
      setVersionState: refuse,
      selfTest: refuse,
      publicJwk: refuse,
      exportMaterial: refuse,
      check: refuse,
    }
  }
  placeholders.add(factory)
  return factory
}

/**
 * Every provider type and its factory. Replace a `notAvailable` entry with the real factory once
 * that provider exists. `vault-transit` stays a refusing entry on purpose: Vault and OpenBao
 * Transit are driven through an exec hook (examples/exec-providers/vault-transit-hook.py).
 */
export const PROVIDER_FACTORIES: ProviderFactories = {
  local: (_settings, deps) => {
    if (deps.store === undefined) throw new KeyrotorError('INTERNAL', 'the local provider needs the store')
    return createLocalProvider(deps.store)
  },
  pkcs11: (settings, deps) => createPkcs11Provider(settings, { env: deps.env }),
  // credentials: the AWS SDK's default chain
  'aws-kms': (settings) => createAwsKmsProvider(settings, {}),
  'vault-transit': notAvailable(
    'vault-transit',
    'is not built in: use type exec with examples/exec-providers/vault-transit-hook.py',
  ),
  exec: (settings, deps) => createExecProvider(settings, { env: deps.env }),
}

/** Whether keys may be put on instances of this type; config validation refuses the others. */
export function isProviderAvailable(kind: ProviderKind): boolean {
  return !placeholders.has(PROVIDER_FACTORIES[kind])
}

/** The provider instances the engine talks to, by name (`local` and each `providers:` entry). */
export interface ProviderRegistry {
  /** The instance a key's `provider` names; an unknown name is INVALID_CONFIG naming it. */
  get(name: string): KeyProvider
  /**
   * Takes the `providers:` map of the configuration in force: new instances are built on first
   * use, changed ones rebuilt, removed ones closed.
   */
  configure(providers: Readonly<Record<string, ProviderSettings>>): Promise<void>
  /**
   * Runs each configured instance's check, with the algorithms of the `keys` put on it. Throws
   * INVALID_CONFIG whose problems name each failing instance (`providers.hsm: …`), so nothing is
   * enrolled on a backend that does not answer or cannot do a key's algorithm.
   */
  checkAll(keys?: readonly KeyPlacement[]): Promise<void>
  close(): Promise<void>
}

export interface RegistryOptions {
  factories?: ProviderFactories
  /** Ready-built instances that replace the configured ones of the same name (tests). */
  instances?: Readonly<Record<string, ProviderInstance>>
}

export function createProviderRegistry(deps: ProviderDeps, options: RegistryOptions = {}): ProviderRegistry {
  const factories = options.factories ?? PROVIDER_FACTORIES
  let settings = new Map<string, SettingsOf<ProviderKind>>([[LOCAL_INSTANCE, { type: 'local' }]])
  const built = new Map<string, ProviderInstance>()

  function build(name: string): ProviderInstance {
    const given = options.instances?.[name]
    if (given !== undefined) return given
    const own = settings.get(name)
    if (own === undefined) {
      const known = [...settings.keys()].join(', ')
      throw new KeyrotorError('INVALID_CONFIG', `unknown provider "${name}" (configured: ${known})`)
    }
    // the mapped type guarantees each factory gets its own type's settings
    const factory = factories[own.type] as ProviderFactory
    return factory(own, deps)
  }

  const instance = (name: string): ProviderInstance => {
    let provider = built.get(name)
    if (provider === undefined) {
      provider = build(name)
      built.set(name, provider)
    }
    return provider
  }

  return {
    get: instance,

    async configure(providers) {
      const next = new Map<string, SettingsOf<ProviderKind>>([[LOCAL_INSTANCE, { type: 'local' }]])
      for (const [name, s] of Object.entries(providers)) if (name !== LOCAL_INSTANCE) next.set(name, s)
      const stale = [...built.keys()].filter(
        (name) => JSON.stringify(next.get(name)) !== JSON.stringify(settings.get(name)),
      )
      settings = next
      for (const name of stale) {
        const provider = built.get(name)
        built.delete(name)
        if (options.instances?.[name] === undefined) await provider?.close?.()
      }
    },

    async checkAll(keys = []) {
      const problems: string[] = []
      // local needs no check: it is the store, which answered when it was opened
      for (const name of [...settings.keys()].filter((n) => n !== LOCAL_INSTANCE)) {
        try {
          const algorithms = [...new Set(keys.filter((k) => k.provider === name).map((k) => k.algorithm))]
          await instance(name).check?.(algorithms)
        } catch (error) {
          problems.push(`providers.${name}: ${error instanceof Error ? error.message : String(error)}`)
        }
      }
      if (problems.length > 0) {
        throw new KeyrotorError(
          'INVALID_CONFIG',
          `provider instance(s) do not answer:\n${problems.join('\n')}`,
          { details: { problems } },
        )
      }
    },

    async close() {
      const open = [...built.entries()].filter(([name]) => options.instances?.[name] === undefined)
      built.clear()
      for (const [, provider] of open) await provider.close?.()
    },
  }
}

/**
 * Checks the instances of a `providers:` map without a store (`config validate`): throws
 * INVALID_CONFIG naming each instance that does not answer.
 */
export async function checkProviders(
  providers: Readonly<Record<string, ProviderSettings>>,
  env: ProviderDeps['env'],
  keys: readonly KeyPlacement[] = [],
): Promise<void> {
  const registry = createProviderRegistry({ env })
  await registry.configure(providers)
  try {
    await registry.checkAll(keys)
  } finally {
    await registry.close()
  }
}
