import type { Kysely } from 'kysely'
import type { ProviderKind } from '../domain/algorithms.js'
import { KeyrotorError } from '../errors.js'
import type { Database } from '../store/tables.js'
import type { Transact } from '../store/transactor.js'
import type { KeyProvider } from './key-provider.js'
import { createLocalProvider } from './local/local-provider.js'

/** What every provider factory is given; main.ts builds it once. */
export interface ProviderDeps {
  db: Kysely<Database>
  masterKey: Buffer
  /** The store's durable transactions, for providers that keep state in it (local). */
  transact?: Transact | undefined
}

/** Builds one provider instance; the registry calls it at most once per kind. */
export type ProviderFactory = (deps: ProviderDeps) => KeyProvider

/** The providers the engine talks to, one instance per kind. */
export interface ProviderRegistry {
  get(kind: ProviderKind): KeyProvider
}

/** Factories that stand in for providers not built yet, so the registry can tell them apart. */
const placeholders = new WeakSet<ProviderFactory>()

function notAvailableYet(kind: ProviderKind): ProviderFactory {
  const factory: ProviderFactory = () => {
    const refuse = async (): Promise<never> => {
      throw new KeyrotorError('PROVIDER_ERROR', `provider "${kind}" is not available in this build yet`)
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
    }
  }
  placeholders.add(factory)
  return factory
}

/**
 * Every provider kind and its factory. The record is exhaustive over `PROVIDER_KINDS`: adding a
 * kind without a factory here fails to compile. Replace a `notAvailableYet` entry with the real
 * factory once that provider exists.
 */
export const PROVIDER_FACTORIES: Readonly<Record<ProviderKind, ProviderFactory>> = {
  local: (deps) => createLocalProvider({ db: deps.db, masterKey: deps.masterKey, transact: deps.transact }),
  pkcs11: notAvailableYet('pkcs11'),
  'aws-kms': notAvailableYet('aws-kms'),
  'vault-transit': notAvailableYet('vault-transit'),
  exec: notAvailableYet('exec'),
}

/** Whether keys may be configured on this provider kind; config validation refuses the others. */
export function isProviderAvailable(kind: ProviderKind): boolean {
  return !placeholders.has(PROVIDER_FACTORIES[kind])
}

/** The provider kinds this build can use, for error messages ("available: local"). */
export function availableProviderKinds(): ProviderKind[] {
  return (Object.keys(PROVIDER_FACTORIES) as ProviderKind[]).filter(isProviderAvailable)
}

/** A registry that builds each provider on first use and hands out the same instance after. */
export function createProviderRegistry(
  deps: ProviderDeps,
  factories: Readonly<Record<ProviderKind, ProviderFactory>> = PROVIDER_FACTORIES,
): ProviderRegistry {
  const instances = new Map<ProviderKind, KeyProvider>()
  return {
    get(kind) {
      let provider = instances.get(kind)
      if (provider === undefined) {
        provider = factories[kind](deps)
        instances.set(kind, provider)
      }
      return provider
    },
  }
}
