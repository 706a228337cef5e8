import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuditLog } from '../src/audit/audit-log.js'
import { deriveAuditKey } from '../src/audit/chain.js'
import { verifyChain } from '../src/audit/verify-chain.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

const NUM_RUNS = 1_000

// any code point, plus what UTF-8 and PostgreSQL cannot hold: lone surrogates and NUL
const awkward = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\u0000', '\ufffd', '\u202e')
const text = fc.string({
  unit: fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
    awkward,
  ),
  maxLength: 24,
})

/** What the store can hold of `value`: lone surrogates and NUL become U+FFFD, the rest as given. */
const storable = (value: string) => value.toWellFormed().replaceAll('\u0000', '\ufffd')

/**
 * Issue 9 item 7: any text, well-formed or not, that reaches the audit log is stored as it is
 * hashed, so the chain verifies; text that is well-formed and NUL-free is kept exactly.
 */
describe.each(DIALECTS)('Unicode text through the audit chain on %s (property)', (dialect) => {
  let store: TestStore
  const key = deriveAuditKey(randomBytes(32))
  const audit = createAuditLog({ chainKey: key })

  beforeAll(async () => {
    store = await createTestStore(dialect)
  })
  afterAll(async () => {
    await store?.dispose()
  })

  it(`stores every record as hashed, and verify passes (${NUM_RUNS} cases)`, async () => {
    let cases = 0
    let lossless = 0
    await fc.assert(
      fc.asyncProperty(text, text, text, text, async (actor, target, reason, detail) => {
        cases += 1
        const appended = await audit.append(store.db, {
          actor: `u${actor}`,
          action: 'unicode.test',
          target,
          reason,
          details: { detail, named: { [`x${detail}`]: 1 } },
        })
        // outside a transaction the record is written at once and returned
        if (appended === undefined) throw new Error('append outside a transaction returned no record')
        const [stored] = await audit.list(store.db, { afterSeq: appended.seq - 1, limit: 1 })
        expect(stored).toEqual(appended)
        expect([stored?.actor, stored?.target, stored?.reason]).toEqual(
          [`u${actor}`, target, reason].map(storable),
        )
        // details are JSON text: a lone surrogate survives as its \u escape
        expect(stored?.details).toEqual({ detail, named: { [`x${detail}`]: 1 } })
        if ([actor, target, reason].every((t) => t === storable(t))) lossless += 1
        if (cases % 250 === 0) expect((await verifyChain(store.db, key)).valid).toBe(true)
      }),
      { numRuns: NUM_RUNS },
    )
    const report = await verifyChain(store.db, key)
    expect([report.valid, report.checked]).toEqual([true, NUM_RUNS])
    // both kinds of text were exercised, not only the awkward one
    expect(lossless).toBeGreaterThan(NUM_RUNS / 10)
    expect(lossless).toBeLessThan(NUM_RUNS)
  }, 300_000)
})
