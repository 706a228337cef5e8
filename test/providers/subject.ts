import type { Kysely } from 'kysely'
import type { Algorithm } from '../../src/domain/algorithms.js'
import type { KeyProvider, ProviderKeyRef } from '../../src/providers/key-provider.js'
import type { Database } from '../../src/store/tables.js'

/**
 * One backend under the conformance suite. The factory is called once per dialect for the
 * provider-level cases (with a fresh store) and once per engine-level case (with the store the
 * server runs on), so a backend keeping state in the store (local) can be tampered with there.
 */
export interface ConformanceSubject {
  /** The instance the provider-level cases call. */
  provider: KeyProvider
  /** Whether `exportMaterial` hands out material (local, a hook that allows it) or never (HSM, KMS). */
  exportable: boolean
  /** The algorithms the backend supports; every case runs on the first one, the JWK cases on each. */
  algorithms: readonly Algorithm[]
  /**
   * The `providers:` entry of keyrotor.yaml naming this backend `name` (one YAML line, two-space
   * indented), or null for the built-in `local`.
   */
  instanceYaml: ((name: string) => string) | null
  /** Hand `provider` to the server instead of building one from the yaml (a stubbed client). */
  inject?: boolean
  /**
   * Changes a version at the backend as someone outside keyrotor would (an operator at the HSM
   * console): `disabled`, or `lost` (gone altogether). `db` is the store of the server.
   */
  tamper(
    db: Kysely<Database>,
    key: ProviderKeyRef,
    version: number,
    change: 'disabled' | 'lost',
  ): Promise<void>
  close?(): Promise<void>
}

export type SubjectFactory = (context: { db: Kysely<Database> }) => Promise<ConformanceSubject>
