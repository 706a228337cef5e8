import type { Kysely } from 'kysely'
import { KeyrotorError } from '../errors.js'
import type { Database } from '../store/tables.js'
import { createTokenStore } from './tokens.js'

/**
 * The first admin token, for `keyrotor init`, which prints it once. Refused with CONFLICT while a
 * usable (unrevoked, unexpired) admin token exists: init run twice must not mint a second master
 * credential. Once every admin token is revoked or expired, init can mint a new one; whoever runs
 * it already holds the data dir or the database, which is more than an admin token grants.
 */
export async function bootstrapAdmin(
  db: Kysely<Database>,
  options: { now?: () => Date } = {},
): Promise<{ id: string; token: string }> {
  const now = options.now ?? (() => new Date())
  const mint = async (trx: Kysely<Database>) => {
    const at = now().toISOString()
    const existing = await trx
      .selectFrom('tokens')
      .select('id')
      .where('role', '=', 'admin')
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
      .executeTakeFirst()
    if (existing !== undefined) {
      throw new KeyrotorError(
        'CONFLICT',
        `an admin token already exists (${existing.id}); create more with \`keyrotor tokens create --role admin\``,
      )
    }
    return createTokenStore(trx, { now }).create({ user: 'admin', role: 'admin', createdBy: 'init' })
  }
  return db.isTransaction ? mint(db) : db.transaction().execute(mint)
}
