import { chmodSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { Migrator, PostgresDialect, sql, type Kysely, type Migration, type Transaction } from 'kysely'
import { createRequire } from 'node:module'
import type * as Pg from 'pg'
import * as initial from './migrations/001-initial.js'
import * as keyAliasesByKey from './migrations/002-key-aliases-by-key.js'
import * as safety from './migrations/003-safety.js'
import * as configProposals from './migrations/005-config-proposals.js'
import * as notificationOutbox from './migrations/006-notification-outbox.js'
import * as auditChain from './migrations/004-audit-chain.js'
import * as auditStream from './migrations/007-audit-stream.js'
import * as incidentTickets from './migrations/008-incident-tickets.js'
import * as pagingIndexes from './migrations/010-paging-indexes.js'
import * as throughputIndexes from './migrations/011-throughput-indexes.js'
import * as scaleIndexes from './migrations/009-scale-indexes.js'
import { dialectOf, type DialectName } from './dialect.js'
import { ImmediateSqliteDialect, withStatementCache } from './sqlite-immediate.js'
import { ResilientKysely } from './resilient-kysely.js'
import { createTransactor, type Transact } from './transactor.js'
import type { Database } from './tables.js'

/** What a query runs on: the database, or the transaction the caller is in. */
export type Executor = Kysely<Database> | Transaction<Database>

export interface StoreOptions {
  /** postgres://… selects PostgreSQL; otherwise SQLite in `dataDir`. */
  databaseUrl?: string | undefined
  dataDir?: string | undefined
  /** Pool size for PostgreSQL. */
  poolSize?: number
  /** PostgreSQL schema to work in (tests isolate themselves in one each); it must exist. */
  schema?: string | undefined
}

export interface Store {
  db: Kysely<Database>
  /** Durable transactions for the hot path (group commit on SQLite). */
  transact: Transact
  dialect: DialectName
  /** Where the data lives, for messages: a file path or the URL without its password. */
  location: string
  close(): Promise<void>
}

const MIGRATIONS: Record<string, Migration> = {
  '001-initial': initial,
  '002-key-aliases-by-key': keyAliasesByKey,
  '003-safety': safety,
  '005-config-proposals': configProposals,
  '006-notification-outbox': notificationOutbox,
  '004-audit-chain': auditChain,
  '007-audit-stream': auditStream,
  '008-incident-tickets': incidentTickets,
  '010-paging-indexes': pagingIndexes,
  '011-throughput-indexes': throughputIndexes,
  '009-scale-indexes': scaleIndexes,
}

export const SQLITE_FILE = 'keyrotor.db'
/** No transaction of keyrotor's waits on anything but the database: 15 s idle inside one is a frozen process. */
const IDLE_IN_TRANSACTION_MS = 15_000

export function isPostgresUrl(url: string | undefined): boolean {
  return url !== undefined && /^postgres(ql)?:\/\//.test(url)
}

// pg takes about 0.3 s to load: a SQLite server does not pay it. (`require`: openStore is
// synchronous, and pg ships CommonJS.)
const loadPg = () => createRequire(import.meta.url)('pg') as typeof Pg

export function openStore(options: StoreOptions): Store {
  if (isPostgresUrl(options.databaseUrl) && options.databaseUrl !== undefined) {
    const schema = options.schema
    const pg = loadPg()
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 10,
      ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
    })
    if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema))
      throw new Error(`invalid schema name ${schema}`)
    // a process frozen inside a transaction (SIGSTOP, a long GC, a VM pause) would hold its row
    // locks, and SKIP LOCKED claims would pass its runs by for good: PostgreSQL ends such a
    // session, the locks go, and the frozen worker's fenced writes fail when it wakes
    pool.on('connect', (client) => {
      // a backend terminated while its client is checked out (failover, pg_terminate_backend)
      // emits 'error' on that client: without a listener the process would exit. The query in
      // flight fails, the pool discards the broken client, the transaction runs again on a new one
      client.on('error', () => undefined)
      client
        .query(`SET idle_in_transaction_session_timeout = ${IDLE_IN_TRANSACTION_MS}`)
        .catch(() => undefined)
    })
    // an idle pooled connection that the server closed must not crash the process
    pool.on('error', () => undefined)
    const db = new ResilientKysely<Database>({ dialect: new PostgresDialect({ pool }) }, { lockOrder: true })
    return {
      db,
      transact: createTransactor(db, 'postgres'),
      dialect: 'postgres',
      location: redactUrl(options.databaseUrl),
      close: () => db.destroy(),
    }
  }
  if (options.dataDir === undefined) throw new Error('a data dir or a postgres:// database URL is required')
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 })
  const file = join(options.dataDir, SQLITE_FILE)
  const sqlite = new SqliteDatabase(file)
  // keys are sealed, but token hashes and the journal are nobody else's business either;
  // SQLite gives the -wal and -shm files the database file's mode
  chmodSync(file, 0o600)
  sqlite.pragma('journal_mode = WAL')
  // FULL: a commit is on disk before the phase that follows it acts
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('busy_timeout = 5000')
  const db = new ResilientKysely<Database>(
    { dialect: new ImmediateSqliteDialect({ database: withStatementCache(sqlite) }) },
    { lockOrder: false },
  )
  return {
    db,
    transact: createTransactor(db, 'sqlite'),
    dialect: 'sqlite',
    location: file,
    close: () => db.destroy(),
  }
}

/** Runs every migration not yet applied; keyrotor migrates forward only, at start. */
export async function migrate(db: Kysely<Database>): Promise<void> {
  // Kysely looks for its tables in any schema unless told which: pin the one we work in
  const schema =
    dialectOf(db as Kysely<unknown>) === 'postgres'
      ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s
      : undefined
  const migrator = new Migrator({
    db,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
    provider: { getMigrations: async () => MIGRATIONS },
    migrationTableName: 'keyrotor_migration',
    migrationLockTableName: 'keyrotor_migration_lock',
  })
  let { error, results } = await migrator.migrateToLatest()
  // Kysely's check for its own tables reads the catalog of every schema: a schema dropped by
  // someone else at that moment fails it with 3F000 although ours is fine; look again
  for (let attempt = 1; attempt < 5 && isSchemaVanished(error); attempt++) {
    ;({ error, results } = await migrator.migrateToLatest())
  }
  const failed = results?.find((r) => r.status === 'Error')
  if (error !== undefined || failed !== undefined) {
    const what = failed === undefined ? '' : ` (migration ${failed.migrationName})`
    throw new Error(`database migration failed${what}: ${String(error)}`, { cause: error })
  }
}

function isSchemaVanished(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '3F000'
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')
}
