import type { Algorithm, ProviderKind } from '../domain/algorithms.js'
import type { ProviderVersionState } from '../domain/lifecycle.js'

/** What the engine tells a provider about the key it acts on. */
export interface ProviderKeyRef {
  /** The key's slug, e.g. `payments-dek`. */
  keyId: string
  algorithm: Algorithm
}

/** A version as the provider itself sees it: the ground truth that `verify` compares the store with. */
export interface ProviderVersion {
  keyId: string
  version: number
  state: ProviderVersionState
  /** Provider-side identifier (an ARN, a PKCS#11 label, …); never secret. */
  providerRef: string
  createdAt: string
}

export interface SelfTestResult {
  passed: boolean
  /** What was tried, e.g. "sign/verify ES256"; never material. */
  detail: string
}

/** A JSON Web Key. Private members are present only in `exportMaterial`. */
export type Jwk = Record<string, unknown> & { kty: string; kid?: string; alg?: string }

/**
 * Where key material lives. The engine calls these only from inside a recorded phase; every
 * method must be safe to call again after a crash (check-then-act), because an in-doubt phase is
 * settled by reading the provider (DESIGN §4.4).
 *
 * Implementing a provider (pkcs11, aws-kms, vault-transit, exec): add its kind to
 * `PROVIDER_KINDS`, write a factory in `providers/<kind>/`, and register it in
 * `providers/registry.ts`; the registry is exhaustive, so a kind without a factory does not compile.
 * Never put material in an error message or a log line.
 */
export interface KeyProvider {
  readonly kind: ProviderKind
  /**
   * Creates version `version` of the key with fresh material, enabled. Idempotent: if that
   * version exists already, returns it unchanged (a retried `create` finds the same version).
   */
  createVersion(key: ProviderKeyRef, version: number): Promise<ProviderVersion>
  /** The provider's view of one version, or null if it does not exist there. */
  describeVersion(key: ProviderKeyRef, version: number): Promise<ProviderVersion | null>
  /** Every version the provider holds for the key, in version order. */
  listVersions(key: ProviderKeyRef): Promise<ProviderVersion[]>
  /** Points `alias` at `version`. Idempotent. */
  setAlias(key: ProviderKeyRef, alias: string, version: number): Promise<void>
  /** The version `alias` points at, or null if the provider has no such alias. */
  getAlias(key: ProviderKeyRef, alias: string): Promise<number | null>
  /**
   * Moves a version to `enabled`, `disabled` or `destroyed`. Idempotent; `destroyed` is final
   * and destroys the material for good.
   */
  setVersionState(key: ProviderKeyRef, version: number, state: ProviderVersionState): Promise<void>
  /** Encrypt/decrypt or sign/verify with the version; used by `validate`. */
  selfTest(key: ProviderKeyRef, version: number): Promise<SelfTestResult>
  /** The public JWK of an asymmetric version (kid `{key}.v{n}`), or null for symmetric keys. */
  publicJwk(key: ProviderKeyRef, version: number): Promise<Jwk | null>
  /**
   * The version's material as a JWK, for a consumer that must hold it (a service that encrypts
   * with a data key, an issuer that signs). Providers whose material never leaves them (HSM,
   * KMS) throw MATERIAL_UNAVAILABLE. Refuses disabled and destroyed versions.
   */
  exportMaterial(key: ProviderKeyRef, version: number): Promise<Jwk>
}
