/**
 * What a page of `GET /v1/runs` costs at the start and at the end of a long history: keyset
 * paging (the store's listRuns with a cursor) against OFFSET at the same depth, on the same
 * store in the same run. `node dist/bench/paging-depth.js [runs] [sqlite|postgres]`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { migrate, openStore, type Store } from '../src/store/database.js'
import { encodeCursor } from '../src/store/keyset-page.js'
import { listRuns } from '../src/store/runs-repository.js'
import type { NewRun } from '../src/store/tables.js'
import { postgresAnswers } from './bench-store.js'
import { percentiles } from './percentiles.js'

const RUNS = Number(process.argv[2] ?? 100_000)
const DIALECT = process.argv[3] === 'postgres' ? 'postgres' : 'sqlite'
const DATABASE_URL = process.env.KEYROTOR_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const PAGE = 100
const REPEATS = 50

async function withPg(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL })
  await client.connect()
  await client.query(text).finally(() => client.end())
}

async function fill(store: Store): Promise<void> {
  const at = new Date().toISOString()
  await store.db
    .insertInto('keys')
    .values({
      id: 'k',
      provider: 'local',
      algorithm: 'aes-256-gcm',
      owner: 'o',
      policy: '{}',
      created_at: at,
      updated_at: at,
      frozen_at: null,
      frozen_reason: null,
    })
    .execute()
  const base = Date.parse('2020-01-01T00:00:00Z')
  for (let start = 0; start < RUNS; start += 500) {
    const rows = Array.from({ length: Math.min(500, RUNS - start) }, (_, i) => {
      const created = new Date(base + (start + i) * 1000).toISOString()
      const row: NewRun = {
        id: `run_${(start + i).toString(36).padStart(8, '0')}`,
        key_id: 'k',
        kind: 'rotate',
        state: 'succeeded',
        phase: 'confirm',
        phase_status: 'done',
        correlation_id: 'c',
        trigger: 'scheduler',
        requested_by: 'bench',
        priority: 1,
        duplicate_count: 0,
        fencing_token: 0,
        created_at: created,
      }
      return row
    })
    await store.db.insertInto('runs').values(rows).execute()
  }
}

async function timeMs(fn: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const samples: number[] = []
  for (let i = 0; i < REPEATS; i += 1) {
    const started = process.hrtime.bigint()
    await fn()
    samples.push(Number(process.hrtime.bigint() - started) / 1e6)
  }
  return percentiles(samples)
}

async function main(): Promise<void> {
  if (DIALECT === 'postgres' && !(await postgresAnswers(DATABASE_URL)))
    throw new Error('PostgreSQL does not answer')
  const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-paging-bench-'))
  const schema = DIALECT === 'postgres' ? `kr_bench_${randomBytes(6).toString('hex')}` : undefined
  if (schema !== undefined) await withPg(`CREATE SCHEMA ${schema}`)
  const store = openStore(schema === undefined ? { dataDir } : { dataDir, databaseUrl: DATABASE_URL, schema })
  try {
    await migrate(store.db)
    await fill(store)
    // the last full page: its cursor is the row just before it in newest-first order
    const depth = RUNS - PAGE
    const before = await store.db
      .selectFrom('runs')
      .select(['created_at', 'id'])
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .offset(depth - 1)
      .limit(1)
      .executeTakeFirstOrThrow()
    const cursor = encodeCursor({ list: 'runs' }, [before.created_at, before.id])
    const first = await timeMs(() => listRuns(store.db, { limit: PAGE }))
    const deep = await timeMs(() => listRuns(store.db, { limit: PAGE, cursor }))
    const offset = await timeMs(() =>
      store.db
        .selectFrom('runs')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .offset(depth)
        .limit(PAGE)
        .execute(),
    )
    const line = (name: string, t: { p50: number; p99: number }) =>
      `${name.padEnd(34)} p50 ${t.p50.toFixed(2).padStart(8)} ms   p99 ${t.p99.toFixed(2).padStart(8)} ms`
    console.log(`${DIALECT}, ${RUNS} runs, pages of ${PAGE}, ${REPEATS} repeats each`)
    console.log(line('first page (keyset)', first))
    console.log(line(`page at depth ${depth} (keyset)`, deep))
    console.log(line(`page at depth ${depth} (OFFSET)`, offset))
  } finally {
    await store.close()
    if (schema !== undefined) await withPg(`DROP SCHEMA ${schema} CASCADE`)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
