import pkcs11js from 'pkcs11js'
import { isAsymmetric, kidOf, type Algorithm } from '../../domain/algorithms.js'
import { KeyrotorError } from '../../errors.js'
import type { KeyProvider, ProviderKeyRef, ProviderVersion } from '../key-provider.js'
import { keyTemplates, supportedAlgorithms, TOKEN_ALGORITHMS } from './key-templates.js'
import { ckrName, isRecoverable } from './pkcs11-errors.js'
import type { Pkcs11Settings } from '../../config/provider-settings.js'
import { publicJwkFromToken, selfTestInToken } from './token-crypto.js'
import {
  aliasLabel,
  createData,
  dataValue,
  destroyKeys,
  destroyObject,
  findData,
  newObjectId,
  readVersion,
  removeDuplicates,
  tombstoneLabel,
  versionNumbers,
  type Tombstone,
  type VersionRecord,
} from './token-objects.js'
import { createTokenSessions, type Pkcs11 } from './token-sessions.js'

export interface Pkcs11Provider extends KeyProvider {
  /**
   * Whether the instance answers: the module loads, the token is found, the PIN variable is set
   * and login works, and the token can do every algorithm in `algorithms`. Throws INVALID_CONFIG
   * naming the problem (`details.problem`), or PROVIDER_TRANSIENT when the token fails.
   */
  check(algorithms?: readonly Algorithm[]): Promise<void>
  /** The algorithms of keyrotor's list the token offers the mechanisms for. */
  supportedAlgorithms(): Promise<Algorithm[]>
  /** Closes the sessions; the last instance on a module finalizes it. */
  close(): Promise<void>
}

/**
 * Keys in a PKCS#11 token (an HSM, or SoftHSM2 in tests), on the object model of
 * token-objects.ts. Material is generated in the token, sensitive and never extractable: it
 * never leaves, so `exportMaterial` always refuses. `providerRef` is the object label.
 */
export function createPkcs11Provider(
  settings: Pkcs11Settings,
  deps: { env: Readonly<Record<string, string | undefined>>; now?: () => Date },
): Pkcs11Provider {
  const sessions = createTokenSessions(settings, deps.env)
  const now = deps.now ?? (() => new Date())
  const where = `pkcs11 token "${settings.tokenLabel}"`

  const requireVersion = (lib: Pkcs11, session: pkcs11js.Handle, key: ProviderKeyRef, version: number) => {
    const record = readVersion(lib, session, key.keyId, version)
    if (record === null) {
      throw new KeyrotorError('NOT_FOUND', `version ${kidOf(key.keyId, version)} does not exist in ${where}`)
    }
    return record
  }

  const createOnToken = (key: ProviderKeyRef, version: number): Promise<ProviderVersion> =>
    sessions.run(`create ${kidOf(key.keyId, version)}`, async (lib, session) => {
      const label = kidOf(key.keyId, version)
      const existing = readVersion(lib, session, key.keyId, version)
      if (existing !== null) return checked(key, existing)
      const spec = TOKEN_ALGORITHMS[key.algorithm]
      const templates = keyTemplates(key.algorithm, label, newObjectId(now()))
      if ('secret' in templates) {
        await lib.C_GenerateKeyAsync(session, { mechanism: spec.generate }, templates.secret)
      } else {
        await lib.C_GenerateKeyPairAsync(
          session,
          { mechanism: spec.generate },
          templates.public,
          templates.private,
        )
      }
      // the label is the uniqueness guard: racing creators each see every key of the label,
      // agree on the first created and destroy the rest
      removeDuplicates(lib, session, label)
      return checked(key, requireVersion(lib, session, key, version))
    })

  const supported = async (): Promise<Algorithm[]> => supportedAlgorithms(await sessions.mechanisms())

  return {
    kind: 'pkcs11',

    createVersion: (key, version) =>
      oneCreationAtATime(`${settings.module}|${settings.tokenLabel}|${kidOf(key.keyId, version)}`, () =>
        createOnToken(key, version),
      ),

    describeVersion: (key, version) =>
      sessions.run(`describe ${kidOf(key.keyId, version)}`, (lib, session) => {
        const record = readVersion(lib, session, key.keyId, version)
        return record === null ? null : toVersion(key, record)
      }),

    listVersions: (key) =>
      sessions.run(`list versions of ${key.keyId}`, (lib, session) =>
        versionNumbers(lib, session, key.keyId).flatMap((n) => {
          const record = readVersion(lib, session, key.keyId, n)
          return record === null ? [] : [toVersion(key, record)]
        }),
      ),

    setAlias: (key, alias, version) =>
      sessions.run(`set alias ${alias} of ${key.keyId}`, (lib, session) => {
        const record = requireVersion(lib, session, key, version)
        if (record.state !== 'enabled') {
          throw new KeyrotorError(
            'ILLEGAL_TRANSITION',
            `alias ${alias} cannot point at ${record.state} version ${record.label}`,
          )
        }
        const objects = findData(lib, session, aliasLabel(alias))
        const owners = new Set(objects.map((o) => applicationOf(lib, session, o)))
        const other = [...owners].find((owner) => owner !== `keyrotor:${key.keyId}`)
        if (other !== undefined) {
          throw new KeyrotorError(
            'CONFLICT',
            `alias ${alias} belongs to ${other.replace(/^keyrotor:/, 'key ')}, not ${key.keyId}`,
          )
        }
        const [only] = objects
        if (objects.length === 1 && only !== undefined && dataValue(lib, session, only) === String(version))
          return
        // a data object's value cannot be changed: the alias moves by replacing its object. A crash
        // in between leaves no alias, which the promote phase's settlement sees and redoes
        for (const object of objects) destroyObject(lib, session, object)
        createData(lib, session, aliasLabel(alias), key.keyId, String(version))
      }),

    getAlias: (key, alias) =>
      sessions.run(`get alias ${alias} of ${key.keyId}`, (lib, session) => {
        const [object] = findData(lib, session, aliasLabel(alias), key.keyId)
        return object === undefined ? null : Number(dataValue(lib, session, object))
      }),

    setVersionState: (key, version, state) =>
      sessions.run(`set ${kidOf(key.keyId, version)} ${state}`, (lib, session) => {
        const record = requireVersion(lib, session, key, version)
        if (record.state === 'destroyed') {
          if (state === 'destroyed') return
          throw new KeyrotorError(
            'ILLEGAL_TRANSITION',
            `version ${record.label} is destroyed; it cannot become ${state}`,
          )
        }
        if (state === 'destroyed') {
          const publicJwk =
            record.publicKey === null
              ? null
              : publicJwkFromToken(lib, session, record.publicKey, key, version)
          const tombstone: Tombstone = { algorithm: record.algorithm, createdAt: record.createdAt, publicJwk }
          // the tombstone first: a crash after it leaves a destroy that the next read finishes
          createData(lib, session, tombstoneLabel(key.keyId, version), key.keyId, JSON.stringify(tombstone))
          destroyKeys(lib, session, record.label)
          return
        }
        if (record.state === state) return
        const usage = TOKEN_ALGORITHMS[key.algorithm].usage
        lib.C_SetAttributeValue(
          session,
          record.key as pkcs11js.Handle,
          usage.map((type) => ({ type, value: state === 'enabled' })),
        )
      }),

    selfTest: (key, version) =>
      sessions.run(`self-test ${kidOf(key.keyId, version)}`, async (lib, session) => {
        const kid = kidOf(key.keyId, version)
        const record = readVersion(lib, session, key.keyId, version)
        if (record === null) return { passed: false, detail: `version ${kid} does not exist in ${where}` }
        if (record.state !== 'enabled' || record.key === null) {
          return { passed: false, detail: `version ${kid} is ${record.state} in ${where}` }
        }
        if (record.algorithm !== key.algorithm) {
          return {
            passed: false,
            detail: `version ${kid} holds ${record.algorithm ?? 'a foreign'} key, the key is ${key.algorithm}`,
          }
        }
        const publicJwk =
          record.publicKey === null ? null : publicJwkFromToken(lib, session, record.publicKey, key, version)
        try {
          return await selfTestInToken(lib, session, key.algorithm, record.key, publicJwk)
        } catch (error) {
          if (isRecoverable(error)) throw error
          return { passed: false, detail: `self-test of ${kid} failed in ${where}: ${ckrName(error)}` }
        }
      }),

    publicJwk: (key, version) =>
      sessions.run(`read public key of ${kidOf(key.keyId, version)}`, (lib, session) => {
        if (!isAsymmetric(key.algorithm)) return null
        const record = requireVersion(lib, session, key, version)
        if (record.state === 'destroyed') return record.destroyedPublicJwk ?? null
        if (record.publicKey === null) {
          throw new KeyrotorError(
            'PROVIDER_ERROR',
            `version ${record.label} has no public key object in ${where}`,
          )
        }
        return publicJwkFromToken(lib, session, record.publicKey, key, version)
      }),

    async exportMaterial(key, version) {
      throw new KeyrotorError(
        'MATERIAL_UNAVAILABLE',
        `version ${kidOf(key.keyId, version)} lives in ${where} and never leaves it; use it through the token`,
      )
    },

    supportedAlgorithms: supported,

    async check(algorithms = []) {
      let offered: Algorithm[]
      try {
        offered = await supported()
      } catch (error) {
        if (error instanceof KeyrotorError && error.details?.problem !== undefined) {
          throw new KeyrotorError('INVALID_CONFIG', error.message, { details: error.details, cause: error })
        }
        throw error
      }
      const missing = algorithms.filter((a) => !offered.includes(a))
      if (missing.length > 0) {
        throw new KeyrotorError(
          'INVALID_CONFIG',
          `${where} cannot do ${missing.join(', ')} (it can do: ${offered.join(', ') || 'none of keyrotor’s algorithms'})`,
          { details: { problem: 'algorithm_unsupported', algorithms: missing } },
        )
      }
    },

    close: () => sessions.close(),
  }
}

function applicationOf(lib: Pkcs11, session: pkcs11js.Handle, object: pkcs11js.Handle): string {
  const [value] = lib.C_GetAttributeValue(session, object, [{ type: pkcs11js.CKA_APPLICATION }])
  return value?.value?.toString() ?? ''
}

/** A retried create must describe the same key: another algorithm means two configs disagree. */
function checked(key: ProviderKeyRef, record: VersionRecord): ProviderVersion {
  if (record.algorithm !== key.algorithm) {
    throw new KeyrotorError(
      'CONFLICT',
      `version ${record.label} exists with algorithm ${record.algorithm ?? 'unknown'}, not ${key.algorithm}`,
    )
  }
  return toVersion(key, record)
}

function toVersion(key: ProviderKeyRef, record: VersionRecord): ProviderVersion {
  return {
    keyId: key.keyId,
    version: record.version,
    state: record.state,
    providerRef: record.label,
    createdAt: record.createdAt,
  }
}

/**
 * Creations under way in this process, by module, token and label. A PKCS#11 module is loaded
 * once per process and shared by every provider instance on it, and SoftHSM2 gives no unique
 * label: two instances generating the same version here would each see only their own object
 * and both win. So a second creation of one label waits for the first and then finds its object.
 * Across processes the label re-read in `removeDuplicates` is the guard, and the engine's fenced
 * leases already keep two instances from running one create phase at once.
 */
const creations = new Map<string, Promise<unknown>>()

async function oneCreationAtATime<T>(label: string, create: () => Promise<T>): Promise<T> {
  for (;;) {
    const inFlight = creations.get(label)
    if (inFlight === undefined) break
    await inFlight.catch(() => undefined)
  }
  const creating = create()
  creations.set(label, creating)
  try {
    return await creating
  } finally {
    if (creations.get(label) === creating) creations.delete(label)
  }
}
