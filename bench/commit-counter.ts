import SqliteDatabase from 'better-sqlite3'
import pg from 'pg'

/** Durable commits seen while counting, by kind. */
export interface CommitCounts {
  /** `commit` of a transaction that wrote at least one row-changing statement. */
  transactions: number
  /** insert/update/delete sent outside any transaction: each is its own durable commit. */
  autocommitWrites: number
  /** `commit` of a transaction that only read (an idle claim, say): nothing to make durable. */
  readOnlyTransactions: number
  /** Every statement sent, reads included (the JWKS flood shows how few reach the store). */
  statements: number
}

export const COMMITS_METHOD =
  'statements as the database driver runs them, followed per connection (better-sqlite3 ' +
  'statement executions, pg Client.query): durable commits = COMMITs of transactions that sent at ' +
  'least one insert/update/delete + insert/update/delete sent outside a transaction ' +
  '(autocommit). Read-only transactions are not counted. Exact on both dialects: the counter ' +
  'knows which connection sent each statement.'

const WRITE = /^\s*(insert|update|delete|replace)\b/i
const BEGIN = /^\s*(begin|start\s+transaction)\b/i
const COMMIT = /^\s*(commit|end)\b/i
const ROLLBACK = /^\s*rollback\s*$/i

/**
 * Counts durable commits by watching the statements the two drivers send, per connection. It
 * wraps the drivers' entry points for the life of the benchmark process only: the store under
 * test is opened exactly as in production, and nothing in src/ knows it is being counted.
 */
export function installCommitCounter() {
  const counts: CommitCounts = {
    transactions: 0,
    autocommitWrites: 0,
    readOnlyTransactions: 0,
    statements: 0,
  }
  let counting = false
  const open = new WeakMap<object, { wrote: boolean }>()

  // transactions are followed at all times, so one open when the window starts is not misread
  function seen(connection: object, sql: string): void {
    const tx = open.get(connection)
    if (counting) counts.statements++
    if (BEGIN.test(sql)) open.set(connection, { wrote: false })
    else if (COMMIT.test(sql)) {
      open.delete(connection)
      if (counting && tx?.wrote === true) counts.transactions++
      else if (counting) counts.readOnlyTransactions++
    } else if (ROLLBACK.test(sql)) open.delete(connection)
    else if (WRITE.test(sql)) {
      if (tx !== undefined) tx.wrote = true
      else if (counting) counts.autocommitWrites++
    }
  }

  // the store keeps compiled SQLite statements and runs them again: count each execution
  const sqliteProto = SqliteDatabase.prototype as unknown as {
    prepare: (this: object, sql: string) => Record<string, unknown>
  }
  const prepare = sqliteProto.prepare
  sqliteProto.prepare = function (this: object, sql: string) {
    const statement = prepare.call(this, sql)
    for (const method of ['run', 'all', 'get', 'iterate']) {
      const run = statement[method] as (...args: unknown[]) => unknown
      statement[method] = (...args: unknown[]) => {
        seen(this, sql)
        return run.apply(statement, args)
      }
    }
    return statement
  }

  // Kysely's PostgreSQL driver sends each statement with client.query(text, values) on the pooled
  // client that holds the transaction, so following each client separates them exactly
  const pgProto = pg.Client.prototype as unknown as { query: (this: object, ...args: unknown[]) => unknown }
  const query = pgProto.query
  pgProto.query = function (this: object, ...args: unknown[]) {
    const first = args[0]
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | undefined)?.text
    if (typeof text === 'string') seen(this, text)
    return query.apply(this, args)
  }

  return {
    /** Starts a fresh count (the measured window opens). */
    start(): void {
      Object.assign(counts, { transactions: 0, autocommitWrites: 0, readOnlyTransactions: 0, statements: 0 })
      counting = true
    },
    /** Ends the window; returns what was counted in it. */
    stop(): CommitCounts {
      counting = false
      return { ...counts }
    },
    uninstall(): void {
      sqliteProto.prepare = prepare
      pgProto.query = query
    },
  }
}

export type CommitCounter = ReturnType<typeof installCommitCounter>
