import { openSync, closeSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import type { Problem } from '../src/http/problem.js'
import { SQLITE_FILE } from '../src/store/database.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { call, request } from './helpers/http.js'

/**
 * Issue 9 item 6: a SQLite file with a damaged page. Before, `/readyz` said ready (its `select 1`
 * touches no page) while every authenticated call failed with 500 "never rerun without a person".
 */
describe('a damaged SQLite page', () => {
  let h: Harness | undefined

  afterEach(async () => {
    await h?.stop()
    h = undefined
  })

  it('makes /readyz 503 with the reason, and calls 503 STORE_UNAVAILABLE with Retry-After', async () => {
    h = await startHarness('sqlite', 'keys: []\n')
    const file = join(h.dataDir, SQLITE_FILE)
    // the server's options are dropped: the restart opens the data dir alone
    await h.restart({}, () => {
      // overwrite the tokens table's root page: every authentication reads it
      const probe = new SqliteDatabase(file)
      // everything in the main file, none of it in a WAL that would be read instead
      probe.pragma('wal_checkpoint(TRUNCATE)')
      const { rootpage } = probe
        .prepare("select rootpage from sqlite_master where name = 'tokens'")
        .get() as {
        rootpage: number
      }
      const pageSize = probe.pragma('page_size', { simple: true }) as number
      probe.close()
      const fd = openSync(file, 'r+')
      writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (rootpage - 1) * pageSize)
      closeSync(fd)
    })
    const url = h.keyrotor.url
    const ready = await request<{ status: string; reasons: string[] }>(url, {
      method: 'GET',
      path: '/readyz',
    })
    expect(ready.status).toBe(503)
    expect(ready.body.reasons.join('\n')).toMatch(/store: .*damaged/)
    const keys = await call<Problem>(url, h.adminToken, 'GET', '/v1/keys')
    expect(keys.status).toBe(503)
    expect(keys.headers.get('retry-after')).toMatch(/^\d+$/)
    expect(keys.body.code).toBe('STORE_UNAVAILABLE')
  })
})
