import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { migrate, openStore, type Store } from '../../src/store/database.js'
import type { DialectName } from '../../src/store/dialect.js'

export const TEST_DATABASE_URL =
  process.env.KEYROTOR_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

let postgresAnswers: boolean | undefined

/** Whether the test PostgreSQL answers; under CI=true a missing one is an error, not a skip. */
export async function postgresAvailable(): Promise<boolean> {
  if (postgresAnswers !== undefined) return postgresAnswers
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.end()
    postgresAnswers = true
  } catch (error) {
    if (process.env.CI === 'true')
      throw new Error(`CI=true but PostgreSQL does not answer at ${TEST_DATABASE_URL}`, { cause: error })
    console.warn(`NOTICE: PostgreSQL does not answer at ${TEST_DATABASE_URL}; its suites are skipped`)
    postgresAnswers = false
  }
  return postgresAnswers
}

/** The dialects to run integration suites on: always SQLite, PostgreSQL where it answers. */
export const DIALECTS: DialectName[] = (await postgresAvailable()) ? ['sqlite', 'postgres'] : ['sqlite']

export interface TestStore extends Store {
  /** The SQLite data dir, or a scratch dir for files when on PostgreSQL. */
  dataDir: string
  /** Options that open the same database again (another "instance"). */
  openOptions: { dataDir: string; databaseUrl?: string; schema?: string }
  /** Closes and deletes everything. */
  dispose(): Promise<void>
}

/** A migrated, empty store of the given dialect: a temp dir for SQLite, a fresh schema for PostgreSQL. */
export async function createTestStore(dialect: DialectName): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-test-'))
  const schema = dialect === 'postgres' ? `kr_test_${randomBytes(6).toString('hex')}` : undefined
  const openOptions =
    dialect === 'postgres'
      ? { dataDir, databaseUrl: TEST_DATABASE_URL, schema: schema as string }
      : { dataDir }
  if (schema !== undefined) await withClient((c) => c.query(`CREATE SCHEMA ${schema}`))
  const store = openStore(openOptions)
  await migrate(store.db)
  return {
    ...store,
    dataDir,
    openOptions,
    async dispose() {
      await store.close()
      if (schema !== undefined) await withClient((c) => c.query(`DROP SCHEMA ${schema} CASCADE`))
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

async function withClient(fn: (client: pg.Client) => Promise<unknown>): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    await fn(client)
  } finally {
    await client.end()
  }
}
