import type { Kysely } from 'kysely'
import { kidOf } from '../../domain/algorithms.js'
import type { ProviderVersionState } from '../../domain/lifecycle.js'
import { KeyrotorError } from '../../errors.js'
import type { Transact } from '../../store/transactor.js'
import type { Database } from '../../store/tables.js'
import {
  decodeOpenedMaterial,
  decodePublicJwk,
  encodeMaterialForSealing,
  encodePublicJwk,
} from '../../store/keystore-columns.js'
import type { Jwk, KeyProvider, ProviderKeyRef, ProviderVersion } from '../key-provider.js'
import { createKeystore, type KeystoreRow } from './keystore.js'
import { generateMaterial } from './material.js'
import { createSealer } from './sealing.js'
import { selfTestMaterial } from './self-test.js'

/** What the local provider needs: the store holding its keystore tables, and the master key. */
export interface LocalProviderDeps {
  db: Kysely<Database>
  /** Durable writes joined to the engine's group commit (SQLite); plain writes otherwise. */
  transact?: Transact | undefined
  masterKey: Buffer
  /** Clock for created_at; tests pin it. */
  now?: () => Date
}

/**
 * The built-in provider: material generated with node:crypto and kept in the store's
 * `local_keystore` table, sealed under the master key (see sealing.ts). Every write is
 * idempotent and safe under concurrency from several instances sharing one database.
 */
export function createLocalProvider(deps: LocalProviderDeps): KeyProvider {
  const keystore = createKeystore(deps.db, deps.transact)
  const now = deps.now ?? (() => new Date())
  const sealer = createSealer(deps.masterKey)

  const requireRow = async (key: ProviderKeyRef, version: number): Promise<KeystoreRow> => {
    const row = await keystore.find(key.keyId, version)
    if (row === undefined) {
      const kid = kidOf(key.keyId, version)
      throw new KeyrotorError('NOT_FOUND', `version ${kid} does not exist at the local provider`)
    }
    return row
  }

  /** The decrypted private JWK of a usable version; refuses disabled and destroyed ones. */
  const openMaterial = (row: KeystoreRow): Jwk => {
    const kid = kidOf(row.key_id, row.version)
    if (row.state !== 'enabled') {
      throw new KeyrotorError(
        'MATERIAL_UNAVAILABLE',
        `version ${kid} is ${row.state}; its material is not available`,
      )
    }
    return decodeOpenedMaterial(sealer.open(row.sealed_material, kid), kid)
  }

  return {
    kind: 'local',

    async createVersion(key, version) {
      // check-then-act: a retried create finds the version and must not generate new material
      const existing = await keystore.find(key.keyId, version)
      if (existing !== undefined) return checked(key, existing)
      const kid = kidOf(key.keyId, version)
      const material = await generateMaterial(key.keyId, version, key.algorithm)
      // concurrent creates of one version meet at the primary key: the losers insert nothing and
      // re-read the winner's row, so a version only ever has one material
      await keystore.insertIfAbsent({
        key_id: key.keyId,
        version,
        algorithm: key.algorithm,
        state: 'enabled',
        sealed_material: sealer.seal(encodeMaterialForSealing(material.privateJwk), kid),
        public_jwk: encodePublicJwk(material.publicJwk),
        created_at: now().toISOString(),
      })
      return checked(key, await requireRow(key, version))
    },

    async describeVersion(key, version) {
      const row = await keystore.find(key.keyId, version)
      return row === undefined ? null : toVersion(row)
    },

    async listVersions(key) {
      return (await keystore.list(key.keyId)).map(toVersion)
    },

    async setAlias(key, alias, version) {
      const row = await requireRow(key, version)
      if (row.state !== 'enabled') {
        const kid = kidOf(key.keyId, version)
        throw new KeyrotorError(
          'ILLEGAL_TRANSITION',
          `alias ${alias} cannot point at ${row.state} version ${kid}`,
        )
      }
      await keystore.setAlias(key.keyId, alias, version)
    },

    getAlias: (key, alias) => keystore.getAlias(key.keyId, alias),

    setVersionState: (key, version, state) => keystore.setState(key.keyId, version, state),

    async selfTest(key, version) {
      const row = await keystore.find(key.keyId, version)
      const kid = kidOf(key.keyId, version)
      if (row === undefined)
        return { passed: false, detail: `version ${kid} does not exist at the local provider` }
      if (row.state !== 'enabled')
        return { passed: false, detail: `version ${kid} is ${row.state} at the provider` }
      if (row.algorithm !== key.algorithm) {
        return {
          passed: false,
          detail: `version ${kid} holds ${row.algorithm} material, the key is ${key.algorithm}`,
        }
      }
      let privateJwk: Jwk
      try {
        privateJwk = openMaterial(row)
      } catch (error) {
        // the sealer's messages name the version and the failure, never the material
        return {
          passed: false,
          detail: error instanceof Error ? error.message : `version ${kid} cannot be opened`,
        }
      }
      return selfTestMaterial(key.algorithm, privateJwk, parsePublic(row))
    },

    async publicJwk(key, version) {
      // a public key is not secret: it stays readable after disable or destroy (old signatures)
      return parsePublic(await requireRow(key, version))
    },

    async exportMaterial(key, version) {
      return openMaterial(await requireRow(key, version))
    },
  }
}

function parsePublic(row: KeystoreRow): Jwk | null {
  return decodePublicJwk(row.public_jwk, kidOf(row.key_id, row.version))
}

/** A retried create must describe the same key: another algorithm means two configs disagree. */
function checked(key: ProviderKeyRef, row: KeystoreRow): ProviderVersion {
  if (row.algorithm !== key.algorithm) {
    const kid = kidOf(key.keyId, row.version)
    throw new KeyrotorError(
      'CONFLICT',
      `version ${kid} exists with algorithm ${row.algorithm}, not ${key.algorithm}`,
    )
  }
  return toVersion(row)
}

function toVersion(row: KeystoreRow): ProviderVersion {
  const version = Number(row.version)
  return {
    keyId: row.key_id,
    version,
    state: row.state as ProviderVersionState,
    providerRef: `local:${kidOf(row.key_id, version)}`,
    createdAt: row.created_at,
  }
}
