import type { Kysely, Transaction } from 'kysely'
import type { DialectName } from './dialect.js'
import type { Database } from './tables.js'

/** Runs `work` in a transaction and resolves once it is durably committed. */
export type Transact = <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>

interface Pending {
  work: (trx: Transaction<Database>) => Promise<unknown>
  resolve(value: unknown): void
  reject(error: unknown): void
}

/**
 * Transactions for the engine's hot path. On PostgreSQL, plain transactions (many connections,
 * and the server groups commits itself). On SQLite, group commit: the transactions that arrive
 * while one commit is on its way to disk are run together, each in its own savepoint (so each
 * still commits or rolls back alone), under one COMMIT and one fsync. Nothing is acknowledged
 * before the COMMIT that makes it durable returns, so durability is exactly that of one
 * transaction per call; only the number of disk flushes changes.
 */
export function createTransactor(db: Kysely<Database>, dialect: DialectName): Transact {
  if (dialect === 'postgres') return (work) => db.transaction().execute(work)

  const queue: Pending[] = []
  let flushing = false

  async function flush(): Promise<void> {
    flushing = true
    while (queue.length > 0) {
      const batch = queue.splice(0)
      const outcomes: { ok: boolean; value: unknown }[] = []
      try {
        const trx = await db.startTransaction().execute()
        try {
          for (const [index, item] of batch.entries()) {
            const name = `tx${index}`
            const point = await trx.savepoint(name).execute()
            try {
              outcomes.push({ ok: true, value: await item.work(point) })
              await point.releaseSavepoint(name).execute()
            } catch (error) {
              try {
                await point.rollbackToSavepoint(name).execute()
                await point.releaseSavepoint(name).execute()
              } catch {
                // SQLite ended the whole transaction itself (a full disk, an I/O error): the
                // batch fails, with the error that says why rather than "no such savepoint"
                throw error
              }
              outcomes.push({ ok: false, value: error })
            }
          }
          await trx.commit().execute()
        } catch (error) {
          await trx
            .rollback()
            .execute()
            .catch(() => undefined)
          throw error
        }
      } catch (error) {
        // the batch did not commit: nothing in it happened
        for (const item of batch) item.reject(error)
        continue
      }
      batch.forEach((item, index) => {
        const outcome = outcomes[index] as { ok: boolean; value: unknown }
        if (outcome.ok) item.resolve(outcome.value)
        else item.reject(outcome.value)
      })
    }
    flushing = false
  }

  return <T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({ work, resolve: resolve, reject })
      // let the callers of this turn of the event loop join the batch
      if (!flushing) {
        flushing = true
        setImmediate(() => void flush())
      }
    })
}
