import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

/** The `prev_hash` of the first record: nothing came before it. */
export const GENESIS_HASH = '0'.repeat(64)

/** HKDF info of the chain key: a new version of the chain format gets a new key. */
export const AUDIT_KEY_INFO = 'keyrotor audit chain v1'

/**
 * A key that anyone can compute, for audit logs built without a master key (unit tests). It gives
 * a chain that shows accidental damage but proves nothing against a writer: main.ts always passes
 * the key derived from the master key.
 */
export const UNKEYED_CHAIN_KEY: Buffer = Buffer.alloc(32)

/**
 * The chain's HMAC key, derived from the master key with HKDF-SHA256 so that the master key itself
 * never signs anything and a leaked chain key does not unseal key material.
 */
export function deriveAuditKey(masterKey: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), AUDIT_KEY_INFO, 32))
}

/** Every column of an audit record that its hash covers, as stored. */
export interface ChainedRow {
  seq: number
  at: string
  actor: string
  action: string
  target: string | null
  correlation_id: string | null
  reason: string | null
  /** The details as the stored JSON text (hashing the text avoids re-serialization differences). */
  details: string | null
  prev_hash: string
}

/**
 * hash = HMAC-SHA256(key, JSON array of every column including prev_hash). A JSON array keeps the
 * fields apart unambiguously (no separator a value could contain) and tells null from "null".
 */
export function hashRecord(key: Uint8Array, row: ChainedRow): string {
  const canonical = JSON.stringify([
    'record',
    row.seq,
    row.at,
    row.actor,
    row.action,
    row.target,
    row.correlation_id,
    row.reason,
    row.details,
    row.prev_hash,
  ])
  return createHmac('sha256', key).update(canonical).digest('hex')
}

/** What a checkpoint asserts: the chain had this head at this time. */
export interface CheckpointBody {
  seq: number
  headHash: string
  at: string
}

/** A checkpoint as written outside the store (file line, webhook body). */
export interface Checkpoint extends CheckpointBody {
  /** HMAC-SHA256 under the chain key over the body, domain-separated from record hashes. */
  signature: string
}

export function signCheckpoint(key: Uint8Array, body: CheckpointBody): Checkpoint {
  return { seq: body.seq, headHash: body.headHash, at: body.at, signature: checkpointMac(key, body) }
}

export function checkpointSignatureValid(key: Uint8Array, checkpoint: Checkpoint): boolean {
  const expected = Buffer.from(checkpointMac(key, checkpoint), 'hex')
  const given = Buffer.from(checkpoint.signature, 'hex')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

function checkpointMac(key: Uint8Array, body: CheckpointBody): string {
  const canonical = JSON.stringify(['checkpoint', body.seq, body.headHash, body.at])
  return createHmac('sha256', key).update(canonical).digest('hex')
}

/** Equal hashes, compared in constant time. */
export function sameHash(a: string | null, b: string): boolean {
  if (a === null || a.length !== b.length) return false
  return timingSafeEqual(Buffer.from(a), Buffer.from(b))
}
