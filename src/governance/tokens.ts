import { createHash, randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import { parseDuration } from '../domain/duration.js'
import { KeyrotorError } from '../errors.js'
import { byTimeThenId, filteredPage } from '../store/keyset-page.js'
import type { Page, PageQuery, TimeRange } from '../store/keyset-page.js'
import type { Database, TokenRow } from '../store/tables.js'
import type { Caller } from './permissions.js'
import { isRole, type Role } from '../domain/roles.js'

/** An authenticated token: who it speaks for. */
export interface Principal extends Caller {
  /** The token's id (`tok_…`), for audit records; never the token itself. */
  id: string
  /** When the token was created: four-eyes counts only tokens older than the request. */
  createdAt: string
}

/** A token as listed: everything but its secret (the hash is not shown either). */
export interface TokenInfo {
  id: string
  user: string
  role: Role
  /** The key a consumer token is bound to. */
  key: string | null
  createdAt: string
  createdBy: string
  expiresAt: string | null
  revokedAt: string | null
  lastUsedAt: string | null
}

export interface NewToken {
  user: string
  role: Role
  /** Required for `consumer`, refused for every other role. */
  keyId?: string | undefined
  createdBy: string
  expiresAt?: Date | string | undefined
  /**
   * A lifetime such as "30d", counted from creation on the store's clock (not the caller's, so a
   * CLI on a skewed machine still gets the lifetime it asked for). Excludes `expiresAt`.
   */
  expiresIn?: string | undefined
}

export interface TokenStore {
  /** Returns the token in clear: the only time it exists outside its holder's hands. */
  create(input: NewToken): Promise<{ id: string; token: string; expiresAt: string | null }>
  /** The principal of a valid token; null for unknown, malformed, revoked or expired ones. */
  authenticate(token: string): Promise<Principal | null>
  list(): Promise<TokenInfo[]>
  /** Oldest first, one page (all of them when no limit is given). */
  page(query?: TokenListQuery): Promise<Page<TokenInfo>>
  /** Idempotent; NOT_FOUND for an unknown id. */
  revoke(id: string): Promise<TokenInfo>
}

const PREFIX = 'kr_'
// 32 random bytes: 256 bits, 43 base64url characters
const TOKEN_PATTERN = /^kr_[A-Za-z0-9_-]{43}$/
// last_used_at is for people reviewing tokens, not an access log (the audit log is); writing it on
// every request would add a write to every read and contend with the engine on SQLite
const LAST_USED_GRANULARITY_MS = 60_000

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

/**
 * The tokens table as a repository. Pass a Transaction as `db` to create or revoke inside the
 * caller's transaction (e.g. together with its audit record).
 */
export function createTokenStore(db: Kysely<Database>, options: { now?: () => Date } = {}): TokenStore {
  const now = options.now ?? (() => new Date())

  async function get(id: string): Promise<TokenRow> {
    const row = await db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst()
    if (row === undefined) throw new KeyrotorError('NOT_FOUND', `no token ${id}`)
    return row
  }

  return {
    async create(input) {
      const values = await validate(db, input, now())
      const token = PREFIX + randomBytes(32).toString('base64url')
      const id = `tok_${randomBytes(8).toString('hex')}`
      await db
        .insertInto('tokens')
        .values({ ...values, id, hash: hashToken(token), revoked_at: null, last_used_at: null })
        .execute()
      return { id, token, expiresAt: values.expires_at }
    },

    async authenticate(token) {
      if (!TOKEN_PATTERN.test(token)) return null
      // Looked up by its sha256: the index comparison can only leak timing about the hash, which
      // says nothing usable about the token, so no comparison of secrets happens here at all.
      const row = await db
        .selectFrom('tokens')
        .selectAll()
        .where('hash', '=', hashToken(token))
        .executeTakeFirst()
      const at = now()
      if (row === undefined || row.revoked_at !== null || !isRole(row.role)) return null
      if (row.expires_at !== null && Date.parse(row.expires_at) <= at.getTime()) return null
      if (
        row.last_used_at === null ||
        at.getTime() - Date.parse(row.last_used_at) >= LAST_USED_GRANULARITY_MS
      ) {
        await db
          .updateTable('tokens')
          .set({ last_used_at: at.toISOString() })
          .where('id', '=', row.id)
          .execute()
      }
      return { id: row.id, user: row.user_name, role: row.role, keyId: row.key_id, createdAt: row.created_at }
    },

    async list() {
      return (await pageTokens(db, {})).items
    },

    page: (query = {}) => pageTokens(db, query),

    async revoke(id) {
      await db
        .updateTable('tokens')
        .set({ revoked_at: now().toISOString() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute()
      return toInfo(await get(id))
    },
  }
}

async function validate(db: Kysely<Database>, input: NewToken, at: Date) {
  const user = input.user.trim()
  if (user.length === 0 || user.length > 128 || /\p{Cc}/u.test(user)) {
    throw new KeyrotorError('BAD_REQUEST', 'user must be 1–128 printable characters')
  }
  if (!isRole(input.role)) throw new KeyrotorError('BAD_REQUEST', `unknown role "${String(input.role)}"`)
  const keyId = input.keyId ?? null
  if (input.role === 'consumer' && keyId === null) {
    throw new KeyrotorError('BAD_REQUEST', 'a consumer token must be bound to a key (--key KEY)')
  }
  if (input.role !== 'consumer' && keyId !== null) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      `only consumer tokens are bound to a key; a ${input.role} token is not`,
    )
  }
  if (keyId !== null) {
    const key = await db.selectFrom('keys').select('id').where('id', '=', keyId).executeTakeFirst()
    if (key === undefined) throw new KeyrotorError('UNKNOWN_KEY', `no key ${keyId}`)
  }
  if (input.expiresAt !== undefined && input.expiresIn !== undefined) {
    throw new KeyrotorError('BAD_REQUEST', 'give expiresAt or expiresIn, not both')
  }
  let expiresAt: string | null = null
  const expiry =
    input.expiresIn !== undefined ? new Date(at.getTime() + lifetime(input.expiresIn)) : input.expiresAt
  if (expiry !== undefined) {
    const time = new Date(expiry)
    if (Number.isNaN(time.getTime())) throw new KeyrotorError('BAD_REQUEST', 'expiresAt is not a valid time')
    if (time.getTime() <= at.getTime())
      throw new KeyrotorError('BAD_REQUEST', 'expiresAt must be in the future')
    expiresAt = time.toISOString()
  }
  return {
    user_name: user,
    role: input.role,
    key_id: keyId,
    created_at: at.toISOString(),
    created_by: input.createdBy,
    expires_at: expiresAt,
  }
}

// shorter lifetimes are typos ("30s" for "30d") that make a token expire before it is handed over
const MIN_LIFETIME_MS = 60_000

/** The lifetime in ms; BAD_REQUEST naming the field for a malformed or too short one. */
function lifetime(text: string): number {
  let ms: number
  try {
    ms = parseDuration(text)
  } catch {
    throw new KeyrotorError('BAD_REQUEST', `expiresIn: "${text}" is not a duration (use e.g. 12h, 30d)`)
  }
  if (ms < MIN_LIFETIME_MS) throw new KeyrotorError('BAD_REQUEST', `expiresIn: "${text}" is shorter than 1m`)
  return ms
}

/** Tokens oldest first; `since`/`until` on when they were created. */
export interface TokenListQuery extends PageQuery, TimeRange {
  user?: string | undefined
  role?: Role | undefined
  /** Consumer tokens bound to this key. */
  key?: string | undefined
}

const TOKENS_OLDEST_FIRST = byTimeThenId<TokenRow, 'created_at'>('tokens', 'created_at', 'asc')

async function pageTokens(db: Kysely<Database>, query: TokenListQuery): Promise<Page<TokenInfo>> {
  const equal = { user_name: query.user, role: query.role, key_id: query.key }
  const select = db.selectFrom('tokens').selectAll()
  const page = await filteredPage(select, { equal, time: 'created_at' }, TOKENS_OLDEST_FIRST, query)
  return { ...page, items: page.items.map(toInfo) }
}

function toInfo(row: TokenRow): TokenInfo {
  return {
    id: row.id,
    user: row.user_name,
    role: row.role,
    key: row.key_id,
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  }
}
