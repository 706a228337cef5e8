import { randomBytes } from 'node:crypto'
import { appendFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAuditLog, type AuditLog } from '../src/audit/audit-log.js'
import { deriveAuditKey, GENESIS_HASH, signCheckpoint } from '../src/audit/chain.js'
import { sealUnchained } from '../src/audit/chain-store.js'
import { createCheckpointer, readCheckpoints } from '../src/audit/checkpoints.js'
import { verifyChain } from '../src/audit/verify-chain.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

/** A chain with records but no checkpoint verifies, with the warning that nothing vouches for its tail. */
const NO_CHECKPOINT = [expect.stringContaining('no audit checkpoint exists')]

const silent = { warn: () => undefined }

describe.each(DIALECTS)('audit hash chain on %s', (dialect) => {
  let store: TestStore
  const key = deriveAuditKey(randomBytes(32))
  let audit: AuditLog
  const file = () => join(store.dataDir, 'audit-checkpoints.jsonl')
  const verify = async () => verifyChain(store.db, key, await readCheckpoints(file(), key))
  const appendMany = async (n: number) => {
    for (let i = 0; i < n; i++)
      await audit.append(store.db, { actor: 'olga', action: `step.${i}`, target: `t${i}` })
  }

  beforeEach(async () => {
    store = await createTestStore(dialect)
    audit = createAuditLog({ chainKey: key })
  })
  afterEach(async () => {
    await store.dispose()
  })

  it('chains each record to the one before, from the genesis hash, and verifies them all', async () => {
    await appendMany(5)
    const events = await audit.list(store.db)
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
    expect(events[0]?.prevHash).toBe(GENESIS_HASH)
    events.slice(1).forEach((event, i) => expect(event.prevHash).toBe(events[i]?.hash))
    expect(await verify()).toEqual({ valid: true, checked: 5, warnings: NO_CHECKPOINT })
  })

  it('keeps one unbroken line in seq order under 60 concurrent appending transactions', async () => {
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        store
          .transact(async (trx) => {
            await trx
              .updateTable('halt')
              .set({ reason: `r${i}` })
              .where('id', '=', 1)
              .execute()
            await audit.append(trx, { actor: `w${i}`, action: 'concurrent.append' })
            // a rolled-back appender must leave no hole the next one chains over
            if (i % 7 === 0) throw new Error('rolled back')
          })
          .catch(() => undefined),
      ),
    )
    const report = await verify()
    expect(report).toEqual({ valid: true, checked: 60 - Math.ceil(60 / 7), warnings: NO_CHECKPOINT })
    const seqs = (await audit.list(store.db)).map((e) => e.seq)
    expect(seqs).toEqual(seqs.map((_, i) => i + 1))
  })

  it('names an edited record as the first bad one', async () => {
    await appendMany(6)
    await store.db.updateTable('audit_events').set({ actor: 'mallory' }).where('seq', '=', 3).execute()
    expect(await verify()).toMatchObject({
      valid: false,
      checked: 2,
      brokenAt: { seq: 3, reason: expect.stringMatching(/edited/) },
    })
  })

  it('names the record after a deleted one', async () => {
    await appendMany(6)
    await store.db.deleteFrom('audit_events').where('seq', '=', 4).execute()
    expect(await verify()).toMatchObject({
      valid: false,
      brokenAt: { seq: 5, reason: expect.stringMatching(/does not chain to record #3/) },
    })
  })

  it('refuses a log whose first records were deleted', async () => {
    await appendMany(3)
    await store.db.deleteFrom('audit_events').where('seq', '=', 1).execute()
    expect(await verify()).toMatchObject({ valid: false, checked: 0, brokenAt: { seq: 2 } })
  })

  it('does not verify under another key', async () => {
    await appendMany(2)
    const other = await verifyChain(store.db, deriveAuditKey(randomBytes(32)))
    expect(other).toMatchObject({ valid: false, checked: 0, brokenAt: { seq: 1 } })
  })

  it('catches a cut tail only through a checkpoint written outside the store', async () => {
    const checkpoints = createCheckpointer({ db: store.db, key, file: file(), log: silent })
    await appendMany(5)
    const written = await checkpoints.checkpoint()
    expect(written).toMatchObject({ seq: 5 })
    await store.db.deleteFrom('audit_events').where('seq', '>', 3).execute()
    // what the store alone cannot tell: a shorter chain is still a valid chain
    expect(await verifyChain(store.db, key)).toEqual({ valid: true, checked: 3, warnings: NO_CHECKPOINT })
    expect(await verify()).toMatchObject({
      valid: false,
      checked: 3,
      brokenAt: { seq: 5, reason: expect.stringMatching(/ends at #3 .* recorded #5/) },
      checkpoint: { seq: 5, headHash: written?.headHash },
    })
  })

  it('catches a cut tail that new records have grown over again', async () => {
    const checkpoints = createCheckpointer({ db: store.db, key, file: file(), log: silent })
    await appendMany(5)
    await checkpoints.checkpoint()
    await store.db.deleteFrom('audit_events').where('seq', '>', 2).execute()
    await appendMany(4)
    expect(await verify()).toMatchObject({
      valid: false,
      checked: 4,
      brokenAt: { seq: 5, reason: expect.stringMatching(/checkpoint/) },
    })
  })

  it('writes a checkpoint file of mode 0600, only when the head moved, each correctly signed', async () => {
    const checkpoints = createCheckpointer({ db: store.db, key, file: file(), log: silent })
    expect(await checkpoints.checkpoint()).toBeUndefined()
    await appendMany(2)
    await checkpoints.checkpoint()
    expect(await checkpoints.checkpoint()).toBeUndefined()
    await appendMany(1)
    await checkpoints.stop()
    expect(statSync(file()).mode & 0o777).toBe(0o600)
    const evidence = await readCheckpoints(file(), key)
    expect(evidence.problems).toEqual([])
    expect(evidence.checkpoints.map((c) => c.seq)).toEqual([2, 3])
    expect(await verify()).toMatchObject({ valid: true, checked: 3, checkpoint: { seq: 3 } })
  })

  it('writes a checkpoint every N appends without being asked', async () => {
    const checkpoints = createCheckpointer({ db: store.db, key, file: file(), everyRecords: 3, log: silent })
    audit = createAuditLog({ chainKey: key, onAppend: () => checkpoints.noteAppend() })
    await appendMany(3)
    const deadline = Date.now() + 5_000
    let seqs: number[] = []
    while (Date.now() < deadline && !seqs.includes(3)) {
      seqs = (await readCheckpoints(file(), key)).checkpoints.map((c) => c.seq)
      if (!seqs.includes(3)) await new Promise((r) => setTimeout(r, 20))
    }
    expect(seqs).toEqual([3])
  })

  it('reports a forged or garbled checkpoint line', async () => {
    await appendMany(2)
    const forged = signCheckpoint(deriveAuditKey(randomBytes(32)), {
      seq: 2,
      headHash: 'ab',
      at: new Date().toISOString(),
    })
    appendFileSync(file(), `${JSON.stringify(forged)}\nnot json\n`)
    expect(await verify()).toMatchObject({
      valid: false,
      checked: 2,
      brokenAt: { reason: expect.stringMatching(/line 1: the signature/) },
    })
  })

  it('chains records from before the chain once, and never re-seals a record stripped of its hash later', async () => {
    for (const action of ['legacy.a', 'legacy.b']) {
      await store.db
        .insertInto('audit_events')
        .values({ at: new Date().toISOString(), actor: 'old', action })
        .execute()
    }
    expect(await sealUnchained(store.db, key)).toBe(2)
    await appendMany(1)
    expect(await verify()).toEqual({ valid: true, checked: 3, warnings: NO_CHECKPOINT })
    await store.db
      .updateTable('audit_events')
      .set({ hash: null, actor: 'mallory' })
      .where('seq', '=', 2)
      .execute()
    expect(await sealUnchained(store.db, key)).toBe(0)
    expect(await verify()).toMatchObject({
      valid: false,
      brokenAt: { seq: 2, reason: expect.stringMatching(/no hash/) },
    })
  })
})
