import { setTimeout as sleep } from 'node:timers/promises'
import { Kysely, type KyselyConfig, type Transaction, type TransactionBuilder } from 'kysely'
import { KeyrotorError } from '../errors.js'
import { drainCommitQueue, openCommitQueue } from './before-commit.js'
import {
  isRetryableBeforeCommit,
  isRolledBackAtCommit,
  storeFailureIn,
  storeUnavailable,
} from './store-errors.js'

/** Runs of one transaction at most: a dropped connection or a deadlock victim gets this many tries. */
const MAX_ATTEMPTS = 6
const FIRST_PAUSE_MS = 25
const MAX_PAUSE_MS = 800

/**
 * Kysely whose `transaction().execute(work)` survives what a PostgreSQL failover or restart does
 * to it, and cannot deadlock on keyrotor's own locks:
 *
 * - The audit chain's head lock is always taken last: audit records are written just before
 *   COMMIT (see before-commit.ts), after every row lock, so a transaction that holds the head
 *   waits for nothing else and none can deadlock on it. Should other row locks still meet in a
 *   deadlock, PostgreSQL aborts one of them (40P01) and it runs again here.
 * - A transaction that failed before its COMMIT (connection terminated, deadlock or serialization
 *   victim) left nothing behind, and every write in it is fenced or keyed, so it runs again.
 *   A COMMIT whose answer was lost is not run again (it may have committed): STORE_UNAVAILABLE.
 * - What still fails because the store cannot serve becomes STORE_UNAVAILABLE (retryable).
 *
 * Only the root instance does this; a `Transaction` is a plain Kysely and does not retry.
 */
export class ResilientKysely<DB> extends Kysely<DB> {
  readonly #deferAudit: boolean

  constructor(config: KyselyConfig, options: { lockOrder: boolean }) {
    super(config)
    this.#deferAudit = options.lockOrder
  }

  override transaction(): TransactionBuilder<DB> {
    const builder = super.transaction()
    const execute = <T>(work: (trx: Transaction<DB>) => Promise<T>) => this.#retrying(builder, work)
    // the builder's other methods (isolation level, access mode) stay Kysely's own
    return new Proxy(builder, {
      get(target, property) {
        if (property === 'execute') return execute
        const value: unknown = Reflect.get(target, property, target)
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value
      },
    })
  }

  async #retrying<T>(
    builder: TransactionBuilder<DB>,
    work: (trx: Transaction<DB>) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let workDone = false
      try {
        return await builder.execute(async (trx) => {
          if (this.#deferAudit) openCommitQueue(trx)
          const result = await work(trx)
          await drainCommitQueue(trx)
          workDone = true
          return result
        })
      } catch (error) {
        const again = workDone ? isRolledBackAtCommit(error) : isRetryableBeforeCommit(error)
        if (again && attempt < MAX_ATTEMPTS) {
          await sleep(Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (attempt - 1)) * (0.5 + Math.random()))
          continue
        }
        if (error instanceof KeyrotorError || storeFailureIn(error) === undefined) throw error
        throw storeUnavailable(error)
      }
    }
  }
}
