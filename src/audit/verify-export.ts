import type { AuditEvent } from './audit-log.js'
import { GENESIS_HASH, hashRecord, sameHash } from './chain.js'

/** The outcome of checking an exported or streamed copy of the chain, offline. */
export interface ExportReport {
  valid: boolean
  /** Distinct records found intact, in seq order, before the first bad one. */
  checked: number
  /** The seq range the copy covers. */
  firstSeq: number | null
  lastSeq: number | null
  /** Exact repeats of a record (at-least-once delivery sends some twice); skipped. */
  duplicates: number
  /** False without the chain key: only the links between records were checked. */
  hashesChecked: boolean
  brokenAt?: { line: number; seq: number | null; reason: string }
}

/** A record as `audit export` and the audit stream write it: always chained. */
type ExportedRecord = AuditEvent & { prevHash: string; hash: string }

/**
 * Checks a copy of the audit chain made by `audit export` or an audit stream (JSON lines, in seq
 * order, possibly starting after #1 and with repeats). Each record must follow the one before it
 * (seq + 1, prevHash = its hash) and, given the chain key, carry the HMAC of its own fields: an
 * edited, forged, deleted, inserted or reordered record is found. A copy that starts after #1 is
 * checked from its first record's prevHash (nothing before it can be proved from the copy alone).
 */
export function verifyExport(text: string, key: Uint8Array | undefined): ExportReport {
  let prev: ExportedRecord | undefined
  let prevRaw = ''
  let firstSeq: number | null = null
  let checked = 0
  let duplicates = 0
  const report = (brokenAt?: ExportReport['brokenAt']): ExportReport => ({
    valid: brokenAt === undefined,
    checked,
    firstSeq,
    lastSeq: prev?.seq ?? null,
    duplicates,
    hashesChecked: key !== undefined,
    ...(brokenAt === undefined ? {} : { brokenAt }),
  })
  const lines = text.split('\n')
  for (const [index, raw] of lines.entries()) {
    const line = index + 1
    if (raw.trim() === '') continue
    const record = parseRecord(raw)
    if (typeof record === 'string') return report({ line, seq: null, reason: record })
    const broken = (reason: string) => report({ line, seq: record.seq, reason })
    if (prev !== undefined && record.seq <= prev.seq) {
      // a repeat must be the same record: same hash, and (given the key) contents that match it
      const same = key === undefined ? raw.trim() === prevRaw : sameHash(record.hash, hashOf(key, record))
      if (record.seq === prev.seq && record.hash === prev.hash && same) {
        duplicates += 1
        continue
      }
      return broken(`record #${record.seq} comes after #${prev.seq}: the copy is out of order or was edited`)
    }
    if (prev !== undefined && record.seq !== prev.seq + 1) {
      return broken(`records #${prev.seq + 1} to #${record.seq - 1} are missing`)
    }
    if (prev === undefined && record.seq === 1 && !sameHash(record.prevHash, GENESIS_HASH)) {
      return broken('the first record does not start the chain')
    }
    if (prev !== undefined && !sameHash(record.prevHash, prev.hash)) {
      return broken(`it does not chain to record #${prev.seq}: a record was changed or replaced`)
    }
    if (key !== undefined && !sameHash(record.hash, hashOf(key, record))) {
      return broken('its contents do not match its hash: the record was edited or forged')
    }
    firstSeq ??= record.seq
    prev = record
    prevRaw = raw.trim()
    checked += 1
  }
  return report()
}

function hashOf(key: Uint8Array, record: ExportedRecord): string {
  return hashRecord(key, {
    seq: record.seq,
    at: record.at,
    actor: record.actor,
    action: record.action,
    target: record.target,
    correlation_id: record.correlationId,
    reason: record.reason,
    // the store hashed the details' JSON text, which JSON.stringify gives back byte for byte
    details: record.details === null ? null : JSON.stringify(record.details),
    prev_hash: record.prevHash,
  })
}

const HASH = /^[0-9a-f]{64}$/

function parseRecord(raw: string): ExportedRecord | string {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    return 'not a JSON line'
  }
  const r = value as Partial<ExportedRecord> | null
  if (r === null || typeof r !== 'object') return 'not an audit record'
  if (!Number.isSafeInteger(r.seq) || (r.seq ?? 0) < 1) return 'no seq: not an audit record'
  if (
    typeof r.hash !== 'string' ||
    !HASH.test(r.hash) ||
    typeof r.prevHash !== 'string' ||
    !HASH.test(r.prevHash)
  ) {
    return `record #${r.seq} carries no chain hash`
  }
  return r as ExportedRecord
}
