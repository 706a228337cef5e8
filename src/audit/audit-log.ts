import type { Kysely, Selectable } from 'kysely'
import { KeyrotorError } from '../errors.js'
import { keysetPage, timeBound, type KeysetOrder, type Page } from '../store/keyset-page.js'
import type { AuditEventsTable, Database } from '../store/tables.js'
import { decodeAuditDetails, encodeAuditDetails } from '../store/audit-columns.js'
import { UNKEYED_CHAIN_KEY } from './chain.js'
import { beforeCommit } from '../store/before-commit.js'
import { appendChained } from './chain-store.js'
import { assertNoSecrets } from './secret-guard.js'

/** What happened, by whom. Never a secret: details are checked (see secret-guard.ts). */
export interface AuditEntry {
  /** A user name, `token:<id>`, or `system` for the engine. */
  actor: string
  /** Dotted verb such as `rotation.trigger`, `tokens.create`, `halt.engage`. */
  action: string
  /** What it acted on: a key id, run id, token id … */
  target?: string | undefined
  correlationId?: string | undefined
  reason?: string | undefined
  details?: Record<string, unknown> | undefined
}

/** A recorded audit event, in the order of `seq`. */
export interface AuditEvent {
  seq: number
  at: string
  actor: string
  action: string
  target: string | null
  correlationId: string | null
  reason: string | null
  details: Record<string, unknown> | null
  /** The hash of the record before (all zeros for the first); null only on unchained records. */
  prevHash: string | null
  /** HMAC under the chain key over every field above and prevHash. */
  hash: string | null
}

export interface AuditQuery {
  /** Events at or after this time. */
  since?: Date | string | undefined
  correlationId?: string | undefined
  /** Events after this seq: the cursor of an export or a stream. */
  afterSeq?: number | undefined
  /** Events before this time. */
  until?: string | undefined
  action?: string | undefined
  actor?: string | undefined
  /** What the events acted on: a key id, a run id, a token id … */
  target?: string | undefined
  /** At most this many (default 1000, at most 10000). */
  limit?: number | undefined
  /** The nextCursor of the page before. */
  cursor?: string | undefined
}

export interface AuditLog {
  /**
   * Appends one event through `db`, which should be the transaction of the action it records:
   * if the audit write fails, so does the action (fail closed), and a rolled-back action leaves
   * no record. The event is chained to the one before it (see chain-store.ts); given a plain
   * `db`, the append runs in a transaction of its own so reading the head and inserting stay one.
   * Inside a PostgreSQL transaction of the store the record is written just before its COMMIT
   * (the chain's head lock last, so no deadlock): then the event is not known yet (undefined).
   */
  append(db: Kysely<Database>, entry: AuditEntry): Promise<AuditEvent | undefined>
  list(db: Kysely<Database>, query?: AuditQuery): Promise<AuditEvent[]>
  /** One page of `list`, with where the next one starts. */
  page(db: Kysely<Database>, query?: AuditQuery): Promise<Page<AuditEvent>>
}

const DEFAULT_LIMIT = 1000
const MAX_LIMIT = 10_000

/** What an audit log needs; main.ts passes the chain key derived from the master key. */
export interface AuditLogDeps {
  now?: (() => Date) | undefined
  /** The chain's HMAC key (deriveAuditKey); unit tests may leave it out (UNKEYED_CHAIN_KEY). */
  chainKey?: Uint8Array | undefined
  /** Told after each append returns (not yet committed): the checkpointer counts records. */
  onAppend?: ((event: AuditEvent) => void) | undefined
}

export function createAuditLog(deps: AuditLogDeps = {}): AuditLog {
  const now = deps.now ?? (() => new Date())
  const key = deps.chainKey ?? UNKEYED_CHAIN_KEY
  return {
    async append(db, entry) {
      if (entry.actor.length === 0 || entry.action.length === 0) {
        throw new KeyrotorError('INTERNAL', 'an audit event needs an actor and an action')
      }
      if (entry.details !== undefined) assertNoSecrets(entry.details)
      const row = {
        at: now().toISOString(),
        actor: entry.actor,
        action: entry.action,
        target: entry.target ?? null,
        correlation_id: entry.correlationId ?? null,
        reason: entry.reason ?? null,
        details: entry.details === undefined ? null : serialize(entry.details),
      }
      const write = async (trx: Kysely<Database>) => {
        const event = toEvent(await appendChained(trx, key, row))
        deps.onAppend?.(event)
        return event
      }
      if (!db.isTransaction) return db.transaction().execute(write)
      // last in its transaction where the store allows it: the chain's head lock after every row lock
      if (beforeCommit(db, async () => void (await write(db)))) return undefined
      return write(db)
    },

    async list(db, query = {}) {
      return (await pageAudit(db, query)).items
    },

    page: pageAudit,
  }
}

const AUDIT_IN_SEQ_ORDER: KeysetOrder<Selectable<AuditEventsTable>> = {
  list: 'audit',
  columns: ['seq'],
  direction: 'asc',
  positionOf: (row) => [Number(row.seq)],
}

async function pageAudit(db: Kysely<Database>, query: AuditQuery = {}): Promise<Page<AuditEvent>> {
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT)
  let select = db.selectFrom('audit_events').selectAll()
  const since = query.since === undefined ? undefined : timeBound('since', isoText(query.since))
  if (since !== undefined) select = select.where('at', '>=', since)
  const until = timeBound('until', query.until)
  if (until !== undefined) select = select.where('at', '<', until)
  if (query.correlationId !== undefined) select = select.where('correlation_id', '=', query.correlationId)
  if (query.action !== undefined) select = select.where('action', '=', query.action)
  if (query.actor !== undefined) select = select.where('actor', '=', query.actor)
  if (query.target !== undefined) select = select.where('target', '=', query.target)
  if (query.afterSeq !== undefined) select = select.where('seq', '>', query.afterSeq)
  const page = await keysetPage(select, AUDIT_IN_SEQ_ORDER, { limit, cursor: query.cursor })
  return { ...page, items: page.items.map((r) => toEvent({ ...r, seq: Number(r.seq) })) }
}

function serialize(details: Record<string, unknown>): string {
  try {
    return encodeAuditDetails(details)
  } catch (error) {
    throw new KeyrotorError('INTERNAL', 'audit details are not serializable as JSON', { cause: error })
  }
}

function isoText(value: Date | string): string {
  return typeof value === 'string' ? value : value.toISOString()
}

/** A stored row as the API shows it. */
export function toEvent(row: {
  seq: number
  at: string
  actor: string
  action: string
  target: string | null
  correlation_id: string | null
  reason: string | null
  details: string | null
  prev_hash: string | null
  hash: string | null
}): AuditEvent {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    correlationId: row.correlation_id,
    reason: row.reason,
    details: decodeAuditDetails(row.details),
    prevHash: row.prev_hash,
    hash: row.hash,
  }
}
