import { randomBytes } from 'node:crypto'
import pkcs11js from 'pkcs11js'
import { kidOf, type Algorithm } from '../../domain/algorithms.js'
import type { ProviderVersionState } from '../../domain/lifecycle.js'
import type { Jwk } from '../key-provider.js'
import { algorithmOfKey, TOKEN_ALGORITHMS } from './key-templates.js'
import { ckrOf } from './pkcs11-errors.js'
import type { Pkcs11 } from './token-sessions.js'

type Handle = pkcs11js.Handle

/**
 * The object model on the token (CONTRACT § Key backends):
 * - version n of key k: a secret key, or a private/public key pair, labelled `k.vn`; its CKA_ID is
 *   8 bytes of creation time (ms, big-endian) and 8 random bytes;
 * - alias a: a CKO_DATA object labelled `keyrotor-alias:a`, value the version number, CKA_APPLICATION
 *   `keyrotor:k` (the owning key);
 * - a destroyed version: its key objects are gone and a CKO_DATA tombstone labelled
 *   `keyrotor-destroyed:k.vn` (value `{"algorithm","createdAt"}`) says so, because `verify` must
 *   tell "destroyed" from "lost".
 */
export const aliasLabel = (alias: string) => `keyrotor-alias:${alias}`
export const tombstoneLabel = (keyId: string, version: number) =>
  `keyrotor-destroyed:${kidOf(keyId, version)}`
export const applicationOf = (keyId: string) => `keyrotor:${keyId}`

export interface VersionRecord {
  version: number
  label: string
  algorithm: Algorithm | null
  state: ProviderVersionState
  createdAt: string
  /** The secret or private key; null once destroyed. */
  key: Handle | null
  publicKey: Handle | null
  /** The public JWK a destroyed asymmetric version had (old signatures stay checkable). */
  destroyedPublicJwk?: Jwk | null
}

/** What the tombstone of a destroyed version keeps: nothing secret. */
export interface Tombstone {
  algorithm: Algorithm | null
  createdAt: string
  publicJwk: Jwk | null
}

export function findObjects(lib: Pkcs11, session: Handle, template: pkcs11js.Template): Handle[] {
  lib.C_FindObjectsInit(session, template)
  try {
    const found: Handle[] = []
    for (;;) {
      const batch = lib.C_FindObjects(session, 100)
      found.push(...batch)
      if (batch.length < 100) return found
    }
  } finally {
    lib.C_FindObjectsFinal(session)
  }
}

export function readAttributes(
  lib: Pkcs11,
  session: Handle,
  handle: Handle,
  types: number[],
): Map<number, Buffer> {
  const values = lib.C_GetAttributeValue(
    session,
    handle,
    types.map((type) => ({ type })),
  )
  return new Map(values.map((a) => [a.type, a.value]))
}

const ulong = (value: Buffer | undefined): number =>
  value === undefined ? -1 : Number(value.readBigUInt64LE(0))
const flag = (value: Buffer | undefined): boolean => value !== undefined && value[0] === 1

/** A fresh CKA_ID: creation time first, so the oldest of racing duplicates sorts first. */
export function newObjectId(now: Date): Buffer {
  const time = Buffer.alloc(8)
  time.writeBigUInt64BE(BigInt(now.getTime()))
  return Buffer.concat([time, randomBytes(8)])
}

const createdAtOf = (id: Buffer): string =>
  id.length >= 8 ? new Date(Number(id.readBigUInt64BE(0))).toISOString() : new Date(0).toISOString()

/**
 * The key objects of one version, winner first. Creation is check-then-generate, so instances
 * racing on one version may each generate a key; every reader picks the same one (the smallest
 * CKA_ID, i.e. the first created), and `removeDuplicates` destroys the others.
 */
export function versionKeys(lib: Pkcs11, session: Handle, label: string): { key: Handle; id: Buffer }[] {
  const keys = [pkcs11js.CKO_SECRET_KEY, pkcs11js.CKO_PRIVATE_KEY].flatMap((cls) =>
    findObjects(lib, session, [
      { type: pkcs11js.CKA_CLASS, value: cls },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]),
  )
  return keys
    .map((key) => ({
      key,
      id: readAttributes(lib, session, key, [pkcs11js.CKA_ID]).get(pkcs11js.CKA_ID) ?? Buffer.alloc(0),
    }))
    .sort((a, b) => Buffer.compare(a.id, b.id))
}

export function publicKeyOf(lib: Pkcs11, session: Handle, label: string, id: Buffer): Handle | null {
  const [found] = findObjects(lib, session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: id },
  ])
  return found ?? null
}

/** Destroys every key object of the label but the winner's (the losers of a creation race). */
export function removeDuplicates(lib: Pkcs11, session: Handle, label: string): void {
  const [winner, ...losers] = versionKeys(lib, session, label)
  if (winner === undefined) return
  for (const loser of losers) destroyPair(lib, session, label, loser)
}

/** Destroys every key object of the label: a version being destroyed. */
export function destroyKeys(lib: Pkcs11, session: Handle, label: string): void {
  for (const pair of versionKeys(lib, session, label)) destroyPair(lib, session, label, pair)
}

function destroyPair(lib: Pkcs11, session: Handle, label: string, pair: { key: Handle; id: Buffer }): void {
  const publicKey = publicKeyOf(lib, session, label, pair.id)
  destroyObject(lib, session, pair.key)
  if (publicKey !== null) destroyObject(lib, session, publicKey)
}

/** Destroys an object; one another caller destroyed meanwhile is gone as wanted. */
export function destroyObject(lib: Pkcs11, session: Handle, handle: Handle): void {
  try {
    lib.C_DestroyObject(session, handle)
  } catch (error) {
    if (ckrOf(error) !== pkcs11js.CKR_OBJECT_HANDLE_INVALID) throw error
  }
}

export function findData(lib: Pkcs11, session: Handle, label: string, keyId?: string): Handle[] {
  return findObjects(lib, session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
    { type: pkcs11js.CKA_LABEL, value: label },
    ...(keyId === undefined ? [] : [{ type: pkcs11js.CKA_APPLICATION, value: applicationOf(keyId) }]),
  ])
}

export function createData(
  lib: Pkcs11,
  session: Handle,
  label: string,
  keyId: string,
  value: string,
): Handle {
  return lib.C_CreateObject(session, [
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA },
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_APPLICATION, value: applicationOf(keyId) },
    { type: pkcs11js.CKA_VALUE, value: Buffer.from(value) },
  ])
}

export function dataValue(lib: Pkcs11, session: Handle, handle: Handle): string {
  return (
    readAttributes(lib, session, handle, [pkcs11js.CKA_VALUE]).get(pkcs11js.CKA_VALUE) ?? Buffer.alloc(0)
  ).toString()
}

/** The algorithm and enabled/disabled state of a version's key object. */
function describeKey(
  lib: Pkcs11,
  session: Handle,
  key: Handle,
): { algorithm: Algorithm | null; enabled: boolean } {
  const a = readAttributes(lib, session, key, [pkcs11js.CKA_CLASS, pkcs11js.CKA_KEY_TYPE])
  const keyType = ulong(a.get(pkcs11js.CKA_KEY_TYPE))
  const secret = ulong(a.get(pkcs11js.CKA_CLASS)) === pkcs11js.CKO_SECRET_KEY
  const size = secret
    ? {
        valueLen: ulong(
          readAttributes(lib, session, key, [pkcs11js.CKA_VALUE_LEN]).get(pkcs11js.CKA_VALUE_LEN),
        ),
      }
    : keyType === pkcs11js.CKK_RSA
      ? {
          modulusBytes:
            readAttributes(lib, session, key, [pkcs11js.CKA_MODULUS]).get(pkcs11js.CKA_MODULUS)?.length ?? 0,
        }
      : {}
  const algorithm = algorithmOfKey(keyType, size)
  const usage = algorithm === null ? [] : TOKEN_ALGORITHMS[algorithm].usage
  const values = readAttributes(lib, session, key, usage)
  return { algorithm, enabled: usage.length > 0 && usage.every((type) => flag(values.get(type))) }
}

/** One version as the token holds it, or null if the token knows nothing of it. */
export function readVersion(
  lib: Pkcs11,
  session: Handle,
  keyId: string,
  version: number,
): VersionRecord | null {
  const label = kidOf(keyId, version)
  const [tombstone] = findData(lib, session, tombstoneLabel(keyId, version), keyId)
  if (tombstone !== undefined) {
    // a destroy writes its tombstone first: key objects left beside one are from an interrupted
    // destroy, finished here so that "destroyed" always means the material is gone
    destroyKeys(lib, session, label)
    const recorded = JSON.parse(dataValue(lib, session, tombstone)) as Tombstone
    return {
      version,
      label,
      algorithm: recorded.algorithm,
      state: 'destroyed',
      createdAt: recorded.createdAt,
      key: null,
      publicKey: null,
      destroyedPublicJwk: recorded.publicJwk,
    }
  }
  const [winner] = versionKeys(lib, session, label)
  if (winner === undefined) return null
  const { algorithm, enabled } = describeKey(lib, session, winner.key)
  return {
    version,
    label,
    algorithm,
    state: enabled ? 'enabled' : 'disabled',
    createdAt: createdAtOf(winner.id),
    key: winner.key,
    publicKey: publicKeyOf(lib, session, label, winner.id),
  }
}

/** The version numbers the token has key objects or tombstones for, for one key. */
export function versionNumbers(lib: Pkcs11, session: Handle, keyId: string): number[] {
  const escaped = kidOf(keyId, 0)
    .slice(0, -1)
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const pattern = new RegExp(`^(?:keyrotor-destroyed:)?${escaped}(\\d+)$`)
  const objects = [pkcs11js.CKO_SECRET_KEY, pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_DATA].flatMap((cls) =>
    findObjects(lib, session, [{ type: pkcs11js.CKA_CLASS, value: cls }]),
  )
  const numbers = new Set<number>()
  for (const handle of objects) {
    const label = readAttributes(lib, session, handle, [pkcs11js.CKA_LABEL])
      .get(pkcs11js.CKA_LABEL)
      ?.toString()
    const match = label === undefined ? null : pattern.exec(label)
    if (match?.[1] !== undefined) numbers.add(Number(match[1]))
  }
  return [...numbers].sort((a, b) => a - b)
}
