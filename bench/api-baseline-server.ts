import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import Fastify from 'fastify'

/**
 * The floor for bench/api-load.ts: a bare Fastify + better-sqlite3 server doing what the load asks
 * of keyrotor, with none of keyrotor's work (auth, audit chain, journal, engine). POST
 * /v1/keys/:key/rotations inserts a run (a repeated idempotency key answers the existing one, 200)
 * in a durable commit (WAL, synchronous = FULL, as keyrotor's store); GET /v1/keys/:key reads the key
 * and its versions. Run as its own process: `node dist/bench/api-baseline-server.js DIR KEYS`, it
 * prints its URL on stdout.
 */
const [dir, keysArg] = process.argv.slice(2)
if (dir === undefined || keysArg === undefined) throw new Error('usage: api-baseline-server DIR KEYS')

const sqlite = new SqliteDatabase(join(dir, 'baseline.db'))
sqlite.pragma('journal_mode = WAL')
sqlite.pragma('synchronous = FULL')
sqlite.exec(`
  create table if not exists keys (id text primary key, owner text not null, created_at text not null);
  create table if not exists key_versions (key_id text not null, version integer not null, state text not null,
    primary key (key_id, version));
  create table if not exists runs (id text primary key, key_id text not null, state text not null,
    idempotency_key text unique, created_at text not null);
`)
const insertKey = sqlite.prepare('insert or ignore into keys (id, owner, created_at) values (?, ?, ?)')
const insertVersion = sqlite.prepare(
  "insert or ignore into key_versions (key_id, version, state) values (?, 1, 'active')",
)
sqlite.transaction(() => {
  const at = new Date().toISOString()
  for (let i = 0; i < Number(keysArg); i++) {
    const id = `scale-${String(i).padStart(6, '0')}`
    insertKey.run(id, 'bench', at)
    insertVersion.run(id)
  }
})()

const findKey = sqlite.prepare('select id, owner, created_at from keys where id = ?')
const versionsOf = sqlite.prepare('select version, state from key_versions where key_id = ? order by version')
const findRun = sqlite.prepare('select id, key_id, state, created_at from runs where idempotency_key = ?')
const insertRun = sqlite.prepare(
  "insert into runs (id, key_id, state, idempotency_key, created_at) values (?, ?, 'queued', ?, ?)",
)

const app = Fastify()
app.get<{ Params: { key: string } }>('/v1/keys/:key', async (request, reply) => {
  const key = findKey.get(request.params.key)
  if (key === undefined) return reply.code(404).send({ error: 'not found' })
  return { ...key, versions: versionsOf.all(request.params.key) }
})
app.post<{ Params: { key: string }; Body: { idempotencyKey?: string } }>(
  '/v1/keys/:key/rotations',
  async (request, reply) => {
    const idempotencyKey = request.body.idempotencyKey ?? null
    if (idempotencyKey !== null) {
      const existing = findRun.get(idempotencyKey)
      if (existing !== undefined) return reply.code(200).send(existing)
    }
    if (findKey.get(request.params.key) === undefined) return reply.code(404).send({ error: 'not found' })
    const run = {
      id: randomUUID(),
      key_id: request.params.key,
      state: 'queued',
      created_at: new Date().toISOString(),
    }
    insertRun.run(run.id, run.key_id, idempotencyKey, run.created_at)
    return reply.code(201).send(run)
  },
)
const url = await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`${url}\n`)
process.on('SIGTERM', () => {
  void app.close().then(() => sqlite.close())
})
