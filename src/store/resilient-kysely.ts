import { setTimeout as sleep } from 'node:timers/promises'
import { Kysely, sql, type KyselyConfig, type Transaction, type TransactionBuilder } from 'kysely'
import { KeyrotorError } from '../errors.js'
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
 * - Every transaction first takes one transaction-scoped advisory lock (per schema). A keyrotor
 *   transaction can take the audit chain's head lock after row locks (an audited write), and
 *   another the other way round; with one lock always taken first, no two of them can ever wait
 *   on each other. Writers were serialized at the audit head anyway; SQLite serializes them all.
 * - A transaction that failed before its COMMIT (connection terminated, deadlock or serialization
 *   victim) left nothing behind, and every write in it is fenced or keyed, so it runs again.
 *   A COMMIT whose answer was lost is not run again (it may have committed): STORE_UNAVAILABLE.
 * - What still fails because the store cannot serve becomes STORE_UNAVAILABLE (retryable).
 *
 * Only the root instance does this; a `Transaction` is a plain Kysely and does not retry.
 */
export class ResilientKysely<DB> extends Kysely<DB> {
  readonly #ordered: boolean

  constructor(config: KyselyConfig, options: { lockOrder: boolean }) {
    super(config)
    this.#ordered = options.lockOrder
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
          if (this.#ordered)
            await sql`select pg_advisory_xact_lock(hashtext(current_schema() || '.keyrotor.writes'))`.execute(
              trx,
            )
          const result = await work(trx)
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
