import { afterEach, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../src/store/database.js'
import { claimRuns } from '../src/store/run-claims.js'
import { insertRun } from '../src/store/runs-repository.js'
import type { Transact } from '../src/store/transactor.js'
import { createWorker, type Worker } from '../src/engine/runs/worker.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

const NOW = new Date('2026-12-03T12:00:00.000Z')
const LEASE_MS = 30_000

describe.each(DIALECTS)('claiming runs in one transaction (%s)', (dialect) => {
  let store: TestStore
  const others: Store[] = []

  afterEach(async () => {
    for (const other of others.splice(0)) await other.close()
    await store.dispose()
  })

  /** `count` queued runs of distinct keys; run i has the given priority and was created i minutes after 11:00. */
  async function queue(priorities: number[]): Promise<string[]> {
    const ids: string[] = []
    for (const [i, priority] of priorities.entries()) {
      const key = `k${i}`
      await store.db
        .insertInto('keys')
        .values({
          id: key,
          provider: 'local',
          algorithm: 'aes-256-gcm',
          owner: 'test',
          policy: '{}',
          created_at: NOW.toISOString(),
          updated_at: NOW.toISOString(),
        })
        .execute()
      const id = `run-${i}`
      await insertRun(store.db, {
        id,
        key_id: key,
        kind: 'rotate',
        state: 'queued',
        phase: 'preflight',
        phase_status: 'pending',
        correlation_id: `corr-${i}`,
        trigger: 'manual',
        requested_by: 'test',
        priority,
        created_at: new Date(Date.UTC(2026, 11, 3, 11, i)).toISOString(),
        active_key: key,
        duplicate_count: 0,
        fencing_token: 0,
      })
      ids.push(id)
    }
    return ids
  }

  const claim = (on: Store, owner: string, limit: number) =>
    claimRuns(on.transact, dialect, owner, NOW, LEASE_MS, limit)

  it('claims up to its free slots at once, in priority then age order, each with a lease and a new token', async () => {
    store = await createTestStore(dialect)
    // run-3 is urgent; the others by age
    const ids = await queue([10, 10, 10, 0, 10])
    const first = await claim(store, 'worker-a', 3)
    expect(first.map((r) => r.id)).toEqual([ids[3], ids[0], ids[1]])
    for (const run of first) {
      expect(run).toMatchObject({ state: 'running', lease_owner: 'worker-a', fencing_token: 1 })
      expect(run.lease_expires_at).toBe(new Date(NOW.getTime() + LEASE_MS).toISOString())
    }
    // the store says the same as what the claim returned
    const stored = await store.db
      .selectFrom('runs')
      .selectAll()
      .where('lease_owner', '=', 'worker-a')
      .execute()
    expect(stored.map((r) => r.id).sort()).toEqual(first.map((r) => r.id).sort())
    const rest = await claim(store, 'worker-a', 3)
    expect(rest.map((r) => r.id)).toEqual([ids[2], ids[4]])
    expect(await claim(store, 'worker-a', 3)).toEqual([])
  })

  it('gives two instances claiming at the same moment disjoint runs, every run to exactly one', async () => {
    store = await createTestStore(dialect)
    const ids = await queue([5, 5, 5, 5, 5, 5, 5])
    const second = openStore(store.openOptions)
    others.push(second)
    const [a, b] = await Promise.all([claim(store, 'worker-a', 4), claim(second, 'worker-b', 4)])
    const claimed = [...a, ...b].map((r) => r.id)
    expect(new Set(claimed).size).toBe(claimed.length)
    // whatever the interleaving, nothing is left unclaimed that a third claim would not find
    const left = await claim(store, 'worker-c', 10)
    expect([...claimed, ...left.map((r) => r.id)].sort()).toEqual([...ids].sort())
    const owners = await store.db.selectFrom('runs').select(['id', 'lease_owner']).execute()
    for (const row of owners) {
      const holder = a.some((r) => r.id === row.id)
        ? 'worker-a'
        : b.some((r) => r.id === row.id)
          ? 'worker-b'
          : 'worker-c'
      expect(row.lease_owner, row.id).toBe(holder)
    }
  })

  it('starts a run queued while a claim is under way at once, not at the next poll', async () => {
    store = await createTestStore(dialect)
    // The race of a single-run server: the claim reads the runs, the new run commits and wakes
    // the worker, the claim returns empty. The wake must not be lost: the poll here is an hour.
    let queuedDuringClaim = false
    const transact: Transact = async (work) => {
      const result = await store.transact(work)
      if (!queuedDuringClaim) {
        queuedDuringClaim = true
        await queue([5])
        worker.wake()
      }
      return result
    }
    let startedRun: (id: string) => void = () => {}
    const started = new Promise<string>((resolve) => (startedRun = resolve))
    const silent = { info() {}, warn() {}, error() {} }
    const worker: Worker = createWorker(
      { db: store.db, transact, log: silent, now: () => NOW },
      {
        execute: async (run) => {
          startedRun(run.id)
          return run
        },
      },
      { workerId: 'worker-a', dialect, leaseMs: LEASE_MS, concurrency: 1, pollMs: 3_600_000 },
    )
    worker.start()
    try {
      expect(await started).toBe('run-0')
      expect(queuedDuringClaim).toBe(true)
    } finally {
      await worker.stop()
    }
  })
})
