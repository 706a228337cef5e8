import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { SQLITE_FILE } from '../src/store/database.js'
import { createTestStore, type TestStore } from './helpers/stores.js'

/** SQLite's plan of a query: the detail lines of EXPLAIN QUERY PLAN, joined. */
function planOf(dataDir: string, query: string, ...params: unknown[]): string {
  const sqlite = new SqliteDatabase(join(dataDir, SQLITE_FILE), { readonly: true })
  try {
    const rows = sqlite.prepare(`explain query plan ${query}`).all(...params) as { detail: string }[]
    return rows.map((row) => row.detail).join('\n')
  } finally {
    sqlite.close()
  }
}

describe('migrations 009 and 010: reads that stay flat as the store grows', () => {
  let store: TestStore | undefined
  afterEach(async () => {
    await store?.dispose()
    store = undefined
  })

  it('lists the newest runs from an index instead of sorting every run', async () => {
    store = await createTestStore('sqlite')
    const plan = planOf(store.dataDir, 'select * from runs order by created_at desc, id desc limit 100')
    expect(plan).toContain('runs_paging')
    expect(plan).not.toContain('TEMP B-TREE')
  })

  it("finds a timeline's alerts, approvals and incidents by correlation id through an index", async () => {
    store = await createTestStore('sqlite')
    for (const table of ['alerts', 'approvals', 'incidents']) {
      const plan = planOf(store.dataDir, `select * from ${table} where correlation_id in (?, ?)`, 'a', 'b')
      expect(plan).toContain(`${table}_by_correlation`)
    }
  })
})
