import type { Kysely } from 'kysely'
import type { Database } from '../store/tables.js'
import { GENESIS_HASH, hashRecord, sameHash, type Checkpoint } from './chain.js'

/** The outcome of checking the audit chain end to end (GET /v1/audit/verify, `audit verify`). */
export interface ChainReport {
  valid: boolean
  /** Records found intact, in seq order, before the first bad one (all of them when valid). */
  checked: number
  /** The first bad record and why; for a cut tail, the seq the latest checkpoint recorded. */
  brokenAt?: { seq: number; reason: string }
  /** The latest checkpoint the chain was compared with, when there is one. */
  checkpoint?: { seq: number; headHash: string; at: string }
  /** What the check could not prove, though nothing is broken (e.g. no checkpoint to compare with). */
  warnings?: string[]
}

/** Checkpoints read from outside the store, and the lines that could not be trusted. */
export interface CheckpointEvidence {
  /** Checkpoints whose signature holds, in any order. */
  checkpoints: Checkpoint[]
  /** Lines that are not a correctly signed checkpoint: someone wrote to the file. */
  problems: { line: number; reason: string }[]
}

const PAGE = 1000

/**
 * Walks the chain in seq order and stops at the first record that is not what the chain says:
 * its hash does not cover its columns (edited, forged), or its prev_hash is not the hash of the
 * record before it (a record deleted, inserted or moved before it). Then compares the chain with
 * the checkpoints kept outside the store: a record at a checkpoint's seq with another hash means
 * the chain was rebuilt from there, and a head below the latest checkpoint means a cut tail.
 */
export async function verifyChain(
  db: Kysely<Database>,
  key: Uint8Array,
  evidence: CheckpointEvidence = { checkpoints: [], problems: [] },
): Promise<ChainReport> {
  const expectedAt = new Map(evidence.checkpoints.map((c) => [c.seq, c]))
  const latest = evidence.checkpoints.reduce<Checkpoint | undefined>(
    (best, c) => (best === undefined || c.seq > best.seq ? c : best),
    undefined,
  )
  const report = (checked: number, brokenAt?: { seq: number; reason: string }): ChainReport => ({
    valid: brokenAt === undefined,
    checked,
    ...(brokenAt === undefined ? {} : { brokenAt }),
    ...(latest === undefined
      ? {}
      : { checkpoint: { seq: latest.seq, headHash: latest.headHash, at: latest.at } }),
  })

  let checked = 0
  let prev: { seq: number; hash: string } | undefined
  for (;;) {
    const rows = await db
      .selectFrom('audit_events')
      .selectAll()
      .$if(prev !== undefined, (q) => q.where('seq', '>', prev?.seq ?? 0))
      .orderBy('seq')
      .limit(PAGE)
      .execute()
    for (const raw of rows) {
      const row = { ...raw, seq: Number(raw.seq) }
      const broken = (reason: string) => report(checked, { seq: row.seq, reason })
      if (row.hash === null || row.prev_hash === null) return broken('the record carries no hash')
      if (!sameHash(row.hash, hashRecord(key, { ...row, prev_hash: row.prev_hash }))) {
        return broken('its contents do not match its hash: the record was edited or forged')
      }
      if (!sameHash(row.prev_hash, prev?.hash ?? GENESIS_HASH)) {
        return broken(
          prev === undefined
            ? 'the first record does not start the chain: records before it were deleted'
            : `it does not chain to record #${prev.seq}: a record was deleted, inserted or moved between them`,
        )
      }
      const checkpoint = expectedAt.get(row.seq)
      if (checkpoint !== undefined && !sameHash(row.hash, checkpoint.headHash)) {
        return broken(`it differs from the checkpoint of ${checkpoint.at}: the chain was rewritten from here`)
      }
      checked += 1
      prev = { seq: row.seq, hash: row.hash }
    }
    if (rows.length < PAGE) break
  }

  if (latest !== undefined && (prev?.seq ?? 0) < latest.seq) {
    const head = prev === undefined ? 'the log is empty' : `the chain ends at #${prev.seq}`
    return report(checked, {
      seq: latest.seq,
      reason: `${head} but the checkpoint of ${latest.at} recorded #${latest.seq}: records were cut off the end`,
    })
  }
  const problem = evidence.problems[0]
  if (problem !== undefined) {
    return report(checked, {
      seq: latest?.seq ?? 0,
      reason: `checkpoint line ${problem.line}: ${problem.reason}`,
    })
  }
  if (latest === undefined && checked > 0) {
    // without a checkpoint kept outside the store, a writer with the chain key could cut the tail
    // or rebuild the chain unseen: say so instead of reporting a clean bill of health
    return {
      ...report(checked),
      warnings: [
        `no audit checkpoint exists for these ${checked} records: a cut tail or a rebuilt chain would go unnoticed (checkpoints are written after every 100 records, every minute and at shutdown)`,
      ],
    }
  }
  return report(checked)
}
