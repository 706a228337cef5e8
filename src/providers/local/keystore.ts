import type { Insertable, Kysely, Selectable } from 'kysely'
import { kidOf } from '../../domain/algorithms.js'
import type { ProviderVersionState } from '../../domain/lifecycle.js'
import { KeyrotorError } from '../../errors.js'
import type { Transact } from '../../store/transactor.js'
import type { Database, LocalKeystoreTable } from '../../store/tables.js'
import { DESTROYED_MATERIAL } from './sealing.js'

export type KeystoreRow = Selectable<LocalKeystoreTable>

/**
 * The local provider's tables, as plain queries that behave the same on SQLite and PostgreSQL.
 * Rows hold sealed material only; sealing and opening happen in the provider.
 */
export interface Keystore {
  find(keyId: string, version: number): Promise<KeystoreRow | undefined>
  list(keyId: string): Promise<KeystoreRow[]>
  /** Inserts unless the (key, version) exists already; the primary key settles concurrent inserts. */
  insertIfAbsent(row: Insertable<LocalKeystoreTable>): Promise<void>
  /** Idempotent; `destroyed` erases the sealed material and is final. */
  setState(keyId: string, version: number, state: ProviderVersionState): Promise<void>
  /** Points an alias of `keyId` at `version`; CONFLICT if another key owns the alias. */
  setAlias(keyId: string, alias: string, version: number): Promise<void>
  getAlias(keyId: string, alias: string): Promise<number | null>
}

export function createKeystore(db: Kysely<Database>, transact?: Transact): Keystore {
  // the keystore's writes are durable like the engine's, and join its group commits when given one
  const write = <T>(work: (executor: Kysely<Database>) => Promise<T>): Promise<T> =>
    transact === undefined ? work(db) : transact(work)
  const find = (keyId: string, version: number) =>
    db
      .selectFrom('local_keystore')
      .selectAll()
      .where('key_id', '=', keyId)
      .where('version', '=', version)
      .executeTakeFirst()

  return {
    find,

    list: (keyId) =>
      db.selectFrom('local_keystore').selectAll().where('key_id', '=', keyId).orderBy('version').execute(),

    async insertIfAbsent(row) {
      await write((db) =>
        db
          .insertInto('local_keystore')
          .values(row)
          .onConflict((oc) => oc.columns(['key_id', 'version']).doNothing())
          .execute(),
      )
    },

    async setState(keyId, version, state) {
      // destroying overwrites the material in the same statement that marks the row destroyed,
      // and no other change applies to a destroyed row: nothing is left to re-enable
      const result = await write((db) => {
        const base = db
          .updateTable('local_keystore')
          .where('key_id', '=', keyId)
          .where('version', '=', version)
        return state === 'destroyed'
          ? base.set({ state, sealed_material: DESTROYED_MATERIAL }).executeTakeFirst()
          : base.set({ state }).where('state', '!=', 'destroyed').executeTakeFirst()
      })
      if (result.numUpdatedRows > 0n) return
      const kid = kidOf(keyId, version)
      if ((await find(keyId, version)) === undefined) {
        throw new KeyrotorError('NOT_FOUND', `version ${kid} does not exist at the local provider`)
      }
      throw new KeyrotorError('ILLEGAL_TRANSITION', `version ${kid} is destroyed; it cannot become ${state}`)
    },

    async setAlias(keyId, alias, version) {
      // alias names are unique across keys: the upsert moves an alias only within its own key
      await write((db) =>
        db
          .insertInto('local_aliases')
          .values({ key_id: keyId, alias, version })
          .onConflict((oc) =>
            oc
              .column('alias')
              .doUpdateSet({ version: (eb) => eb.ref('excluded.version') })
              .where('local_aliases.key_id', '=', keyId),
          )
          .execute(),
      )
      const owner = await db
        .selectFrom('local_aliases')
        .select('key_id')
        .where('alias', '=', alias)
        .executeTakeFirst()
      if (owner !== undefined && owner.key_id !== keyId) {
        throw new KeyrotorError('CONFLICT', `alias ${alias} belongs to key ${owner.key_id}, not ${keyId}`)
      }
    },

    async getAlias(keyId, alias) {
      const row = await db
        .selectFrom('local_aliases')
        .select('version')
        .where('alias', '=', alias)
        .where('key_id', '=', keyId)
        .executeTakeFirst()
      return row === undefined ? null : Number(row.version)
    },
  }
}
