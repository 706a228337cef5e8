import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuditLog } from '../src/audit/audit-log.js'
import { deriveAuditKey, hashRecord, signCheckpoint } from '../src/audit/chain.js'
import { verifyChain, type CheckpointEvidence } from '../src/audit/verify-chain.js'
import type { Database } from '../src/store/tables.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

/** Tampered cases that must each really change the table, per dialect. */
const MIN_EFFECTIVE = 1_000
const NUM_RUNS = 1_400
const RECORDS = 8

const COLUMNS = [
  'at',
  'actor',
  'action',
  'target',
  'correlation_id',
  'reason',
  'details',
  'prev_hash',
  'hash',
] as const
const NULLABLE = new Set<string>(['target', 'correlation_id', 'reason', 'details', 'prev_hash', 'hash'])
type Row = Record<string, string | number | null> & { seq: number }

const index = fc.nat({ max: RECORDS + 2 })
const value = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.constant(null),
  fc.record({ copyFrom: index }), // another record's value of the same column: the sneaky edit
)
const op = fc.oneof(
  fc.record({ kind: fc.constant('edit' as const), at: index, column: fc.constantFrom(...COLUMNS), value }),
  fc.record({ kind: fc.constant('delete' as const), at: index }),
  fc.record({
    kind: fc.constant('insert' as const),
    seq: fc.integer({ min: 1, max: RECORDS + 3 }),
    copyOf: index,
    forge: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('swap' as const), at: index, with: index }),
  fc.record({ kind: fc.constant('move' as const), at: index, to: fc.integer({ min: 1, max: RECORDS + 3 }) }),
)
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never

describe.each(DIALECTS)('audit chain tampering on %s (property)', (dialect) => {
  let store: TestStore
  const key = deriveAuditKey(randomBytes(32))
  const forgerKey = randomBytes(32)
  let original: Row[]
  let evidence: CheckpointEvidence

  beforeAll(async () => {
    store = await createTestStore(dialect)
    const audit = createAuditLog({ chainKey: key })
    for (let i = 0; i < RECORDS; i++) {
      await audit.append(store.db, {
        actor: i % 2 === 0 ? 'olga' : 'system',
        action: `action.${i % 3}`,
        ...(i % 2 === 0 ? { target: `key-${i}`, reason: 'because' } : {}),
        ...(i % 3 === 0 ? { correlationId: `corr-${i}`, details: { n: i } } : {}),
      })
    }
    original = await snapshot(store.db)
    const head = original.at(-1) as Row
    // the checkpoint the server would have written outside the store at this head
    evidence = {
      checkpoints: [signCheckpoint(key, { seq: head.seq, headHash: String(head.hash), at: String(head.at) })],
      problems: [],
    }
  })
  afterAll(async () => {
    await store.dispose()
  })

  it(`detects every random edit, delete, insert and reorder, naming the first bad record (≥${MIN_EFFECTIVE} effective cases)`, async () => {
    let effective = 0
    const kinds = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 3 }), async (ops) => {
        const outcome = await tamperThenVerify(ops)
        const expected = firstDifference(original, outcome.rows)
        if (expected === undefined) {
          expect(outcome.report).toEqual({ valid: true, checked: RECORDS, checkpoint: expect.anything() })
          return
        }
        effective += 1
        for (const o of ops) kinds.set(o.kind, (kinds.get(o.kind) ?? 0) + 1)
        expect(outcome.report.valid).toBe(false)
        expect(outcome.report.brokenAt?.seq).toBe(expected)
      }),
      { numRuns: NUM_RUNS },
    )
    console.info(
      `audit chain property on ${dialect}: ${effective} effective tamperings of ${NUM_RUNS} cases`,
      Object.fromEntries(kinds),
    )
    expect(effective).toBeGreaterThanOrEqual(MIN_EFFECTIVE)
    for (const kind of ['edit', 'delete', 'insert', 'swap', 'move'])
      expect(kinds.get(kind) ?? 0).toBeGreaterThan(100)
  }, 300_000)

  /** Applies the ops in a transaction, reads the table and verifies it, then rolls everything back. */
  async function tamperThenVerify(ops: Op[]) {
    let outcome: { rows: Row[]; report: Awaited<ReturnType<typeof verifyChain>> } | undefined
    const rollback = new Error('rollback')
    await store.db
      .transaction()
      .execute(async (trx) => {
        for (const o of ops) await apply(trx, o)
        outcome = { rows: await snapshot(trx), report: await verifyChain(trx, key, evidence) }
        throw rollback
      })
      .catch((error: unknown) => {
        if (error !== rollback) throw error
      })
    if (outcome === undefined) throw new Error('no outcome')
    return outcome
  }

  async function apply(trx: Kysely<Database>, o: Op): Promise<void> {
    const rows = await snapshot(trx)
    const pick = (i: number) => rows[i % rows.length]
    const free = (seq: number) => !rows.some((r) => r.seq === seq)
    const row = pick('at' in o ? o.at : 0)
    if (o.kind === 'edit' && row !== undefined) {
      let next =
        typeof o.value === 'object' && o.value !== null
          ? (pick(o.value.copyFrom)?.[o.column] ?? null)
          : o.value
      if (next === null && !NULLABLE.has(o.column)) next = ''
      await trx
        .updateTable('audit_events')
        .set({ [o.column]: next })
        .where('seq', '=', row.seq)
        .execute()
    } else if (o.kind === 'delete' && row !== undefined) {
      await trx.deleteFrom('audit_events').where('seq', '=', row.seq).execute()
    } else if (o.kind === 'insert' && free(o.seq)) {
      const source = pick(o.copyOf) ?? original[0]
      const { seq: _seq, ...copy } = source as Row
      const inserted = { ...copy, seq: o.seq } as Row
      if (o.forge) {
        // a forger who knows the format but not the key, chaining to the record before
        const before = rows.filter((r) => r.seq < o.seq).at(-1)
        inserted.prev_hash = before === undefined ? '0'.repeat(64) : (before.hash ?? null)
        inserted.hash = hashRecord(forgerKey, inserted as never)
      }
      await trx
        .insertInto('audit_events')
        .values(inserted as never)
        .execute()
    } else if (o.kind === 'swap' && row !== undefined) {
      const other = pick(o.with)
      if (other === undefined || other.seq === row.seq) return
      await trx.updateTable('audit_events').set({ seq: -1 }).where('seq', '=', row.seq).execute()
      await trx.updateTable('audit_events').set({ seq: row.seq }).where('seq', '=', other.seq).execute()
      await trx.updateTable('audit_events').set({ seq: other.seq }).where('seq', '=', -1).execute()
    } else if (o.kind === 'move' && row !== undefined && free(o.to)) {
      await trx.updateTable('audit_events').set({ seq: o.to }).where('seq', '=', row.seq).execute()
    }
  }
})

async function snapshot(db: Kysely<Database>): Promise<Row[]> {
  const rows = await db.selectFrom('audit_events').selectAll().orderBy('seq').execute()
  return rows.map((r) => ({ ...r, seq: Number(r.seq) }))
}

/**
 * Where verify must say the chain breaks: the seq of the first record that differs from the
 * original at the same position, or, when what is left is a shorter copy of the original, the
 * checkpoint's seq (the original head). Undefined when the table is unchanged.
 */
function firstDifference(original: Row[], now: Row[]): number | undefined {
  for (let i = 0; i < Math.max(original.length, now.length); i++) {
    const was = original[i]
    const is = now[i]
    if (is === undefined) return original.at(-1)?.seq
    if (was === undefined || JSON.stringify(was) !== JSON.stringify(is)) return is.seq
  }
  return undefined
}
