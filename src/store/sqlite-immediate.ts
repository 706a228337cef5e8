import {
  CompiledQuery,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
} from 'kysely'

/**
 * SQLite transactions that take the write lock when they begin (`BEGIN IMMEDIATE`), not at their
 * first write: a transaction that reads then writes (a claim, a compare-and-set) can never find
 * its read invalidated by another writer, nor fail with SQLITE_BUSY half-way.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }

  /**
   * SQLite rolls a transaction back by itself on some errors (SQLITE_FULL at COMMIT, an I/O
   * error); the ROLLBACK that follows then fails with "no transaction is active", and Kysely
   * would report that instead of the error that says what happened (a full disk).
   */
  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw('rollback'))
    } catch (error) {
      if (!/no transaction is active/.test(error instanceof Error ? error.message : '')) throw error
    }
  }
}

export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig

  constructor(config: SqliteDialectConfig) {
    super(config)
    this.#config = config
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config)
  }
}

/**
 * better-sqlite3 compiles every statement it is given; the engine sends the same few dozen shapes
 * over and over, so compiled statements are kept (by SQL text, a bounded number). Reusing one is
 * safe: a statement runs to completion synchronously before the next call.
 */
export function withStatementCache(database: SqliteDatabase, capacity = 512): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>()
  return {
    close: () => {
      cache.clear()
      database.close()
    },
    prepare(sql: string): SqliteStatement {
      const cached = cache.get(sql)
      if (cached !== undefined) return cached
      const statement = database.prepare(sql)
      if (cache.size >= capacity) cache.delete(cache.keys().next().value as string)
      cache.set(sql, statement)
      return statement
    },
  }
}
