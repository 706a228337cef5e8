import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { sql, type Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuditLog, type AuditEvent } from '../src/audit/audit-log.js'
import type { ChainReport } from '../src/audit/verify-chain.js'
import { runCliProcess } from './helpers/cli.js'
import { startHarness, type Harness } from './helpers/harness.js'
import type { Database } from '../src/store/tables.js'
import { createTestStore, DIALECTS, type TestStore } from './helpers/stores.js'

/** A chain with records but no checkpoint verifies, with the warning that nothing vouches for its tail. */
const NO_CHECKPOINT = [expect.stringContaining('no audit checkpoint exists')]

/** The chain through the real server: routes, the CLI, fail-closed actions, checkpoint webhook. */
describe.each(DIALECTS)('tamper-evident audit over HTTP on %s', (dialect) => {
  let h: Harness
  let webhook: Server
  const received: unknown[] = []
  const env = () => ({ KEYROTOR_URL: h.url, KEYROTOR_TOKEN: h.adminToken })

  beforeAll(async () => {
    webhook = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString()))
      request.on('end', () => {
        received.push(JSON.parse(body))
        response.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve))
    const port = (webhook.address() as AddressInfo).port
    h = await startHarness(dialect, 'keys: []\n', {
      auditCheckpointUrl: `http://127.0.0.1:${port}/checkpoints`,
      auditCheckpointEvery: 1_000,
    })
    for (const user of ['ann', 'bob', 'cyd']) {
      expect((await h.api('POST', '/v1/tokens', { user, role: 'viewer' })).status).toBe(201)
    }
  })
  afterAll(async () => {
    await h.stop()
    await new Promise((resolve) => webhook.close(resolve))
  })

  it('lists chained records and verifies the chain intact', async () => {
    const { status, body } = await h.api<AuditEvent[]>('GET', '/v1/audit')
    expect(status).toBe(200)
    expect(body.filter((e) => e.action === 'tokens.create')).toHaveLength(3)
    expect(body.every((e) => /^[0-9a-f]{64}$/.test(e.hash ?? ''))).toBe(true)
    const verify = await h.api<ChainReport>('GET', '/v1/audit/verify')
    expect(verify.body).toEqual({ valid: true, checked: body.length, warnings: NO_CHECKPOINT })
    const cli = await runCliProcess(['audit', 'verify'], env())
    expect(cli).toMatchObject({
      code: 0,
      stdout: expect.stringContaining(`intact: ${body.length} records`),
      stderr: expect.stringContaining('warning: no audit checkpoint exists'),
    })
  })

  it('exports records at or after --since as JSON lines', async () => {
    const all = (await h.api<AuditEvent[]>('GET', '/v1/audit')).body
    const since = all[1]?.at ?? ''
    const cli = await runCliProcess(['audit', 'export', '--since', since], env())
    expect(cli.code).toBe(0)
    const lines = cli.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as AuditEvent)
    expect(lines.length).toBeGreaterThan(0)
    expect(lines.every((e) => e.at >= since)).toBe(true)
    expect(lines.map((e) => e.seq)).toEqual(all.filter((e) => e.at >= since).map((e) => e.seq))
  })

  it('refuses a since that is not a time with 400 naming the parameter', async () => {
    const { status, body } = await h.api<{ detail?: string }>('GET', '/v1/audit?since=yesterday')
    expect(status).toBe(400)
    expect(JSON.stringify(body)).toContain('since')
  })

  it('writes a signed checkpoint to the data dir (0600) and to the webhook', async () => {
    const checkpoint = await h.keyrotor.auditCheckpoints.checkpoint()
    const head = (await h.api<AuditEvent[]>('GET', '/v1/audit')).body.at(-1)
    expect(checkpoint).toMatchObject({ seq: head?.seq, headHash: head?.hash })
    const file = join(h.dataDir, 'audit-checkpoints.jsonl')
    expect(existsSync(file) && statSync(file).mode & 0o777).toBe(0o600)
    expect(received.at(-1)).toEqual(checkpoint)
    const verify = await h.api<ChainReport>('GET', '/v1/audit/verify')
    expect(verify.body).toMatchObject({ valid: true, checkpoint: { seq: head?.seq } })
  })

  it('does not create a token when its audit record cannot be written', async () => {
    const before = (await h.api<unknown[]>('GET', '/v1/tokens')).body.length
    await refuseAuditInserts(h.keyrotor.store.db, dialect)
    try {
      const created = await h.api('POST', '/v1/tokens', { user: 'eve', role: 'admin' })
      expect(created.status).toBe(500)
    } finally {
      await allowAuditInserts(h, dialect)
    }
    const after = (await h.api<{ user: string }[]>('GET', '/v1/tokens')).body
    expect(after).toHaveLength(before)
    expect(after.some((t) => t.user === 'eve')).toBe(false)
  })

  it('reports an edited record through the API and exits 1 from `audit verify`, naming it', async () => {
    const target = (await h.api<AuditEvent[]>('GET', '/v1/audit')).body.find(
      (e) => e.action === 'tokens.create',
    )
    await h.keyrotor.store.db
      .updateTable('audit_events')
      .set({ reason: 'nothing to see' })
      .where('seq', '=', target?.seq ?? 0)
      .execute()
    const verify = await h.api<ChainReport>('GET', '/v1/audit/verify')
    expect(verify.body).toMatchObject({ valid: false, brokenAt: { seq: target?.seq } })
    const cli = await runCliProcess(['audit', 'verify'], env())
    expect(cli.code).toBe(1)
    expect(cli.stdout + cli.stderr).toContain(`#${target?.seq}`)
  })
})

describe.each(DIALECTS)('audit appends fail closed on %s', (dialect) => {
  let store: TestStore
  beforeAll(async () => {
    store = await createTestStore(dialect)
  })
  afterAll(async () => {
    await store.dispose()
  })

  it('leaves the store as it was when the audit insert is refused by the database', async () => {
    await refuseAuditInserts(store.db, dialect)
    const audit = createAuditLog()
    await expect(
      store.db.transaction().execute(async (trx) => {
        await trx.updateTable('halt').set({ engaged: 1, reason: 'x' }).where('id', '=', 1).execute()
        await audit.append(trx, { actor: 'olga', action: 'halt.engage' })
      }),
    ).rejects.toThrow(/audit store refused/)
    const halt = await store.db.selectFrom('halt').select('engaged').executeTakeFirstOrThrow()
    expect(halt.engaged).toBe(0)
  })
})

/** A trigger that makes every audit insert fail, as a full disk or a revoked grant would. */
async function refuseAuditInserts(db: Kysely<Database>, dialect: string): Promise<void> {
  if (dialect === 'postgres') {
    await sql`CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit store refused'; END $$ LANGUAGE plpgsql`.execute(
      db,
    )
    await sql`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()`.execute(
      db,
    )
  } else {
    await sql`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit store refused'); END`.execute(
      db,
    )
  }
}

async function allowAuditInserts(h: Harness, dialect: string): Promise<void> {
  const db = h.keyrotor.store.db
  await sql`DROP TRIGGER refuse_audit${sql.raw(dialect === 'postgres' ? ' ON audit_events' : '')}`.execute(db)
}
