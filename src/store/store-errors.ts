import { KeyrotorError } from '../errors.js'

/**
 * PostgreSQL conditions after which the whole transaction may run again: it was rolled back
 * (serialization failure, deadlock victim, an aborted transaction) or its connection went away
 * before COMMIT was sent, so nothing of it was committed.
 */
const PG_RETRY_BEFORE_COMMIT = new Set(['40001', '40P01', '25P02', '57P01', '57P02', '57P03'])
/** Rolled back by the server even when reported at COMMIT: safe to run again. */
const PG_ROLLED_BACK = new Set(['40001', '40P01'])
/** The database cannot serve now (disk full, out of memory or connections, I/O error, damage). */
const PG_UNAVAILABLE = new Set([
  '53100',
  '53200',
  '53300',
  '58030',
  'XX001',
  'XX002',
  '57P01',
  '57P02',
  '57P03',
])
/** Node's errors for a connection that went away or never came. */
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'])
/** The file system under SQLite. */
const FS = new Set(['ENOSPC', 'EIO', 'EROFS', 'EDQUOT'])
const SQLITE_UNAVAILABLE = /^SQLITE_(FULL|IOERR|CORRUPT|NOTADB|CANTOPEN|READONLY|BUSY|PROTOCOL|NOLFS)(_|$)/

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** pg's own words for a connection it lost (it gives these errors no code). */
function isLostConnection(error: unknown): boolean {
  const code = codeOf(error)
  if (code !== undefined && (NETWORK.has(code) || code.startsWith('08'))) return true
  return /Connection terminated|not queryable|Client was closed|connection timeout|timeout exceeded when trying to connect/i.test(
    messageOf(error),
  )
}

/** The error itself and every `cause` under it (services wrap database errors). */
function* chain(error: unknown): Generator<unknown> {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    yield e
    e = (e as { cause?: unknown }).cause
  }
}

/** True when a transaction that failed with `error` before COMMIT left nothing behind and may run again. */
export function isRetryableBeforeCommit(error: unknown): boolean {
  return [...chain(error)].some((e) => PG_RETRY_BEFORE_COMMIT.has(codeOf(e) ?? '') || isLostConnection(e))
}

/** True when a COMMIT that failed with `error` certainly rolled back (so running again is safe). */
export function isRolledBackAtCommit(error: unknown): boolean {
  return [...chain(error)].some((e) => PG_ROLLED_BACK.has(codeOf(e) ?? ''))
}

/** The database error under `error` that means "the store cannot serve now", if there is one. */
export function storeFailureIn(error: unknown): unknown {
  for (const e of chain(error)) {
    if (e instanceof KeyrotorError && e.code === 'STORE_UNAVAILABLE') return e
    const code = codeOf(e) ?? ''
    if (PG_UNAVAILABLE.has(code) || FS.has(code) || SQLITE_UNAVAILABLE.test(code) || isLostConnection(e))
      return e
    if (PG_RETRY_BEFORE_COMMIT.has(code)) return e
  }
  return undefined
}

/**
 * True when `error` is the store failing: STORE_UNAVAILABLE, or an uncoded database error. A
 * coded error of another kind says what failed already (a dependent's refused connection is its
 * own, not the store's, although its cause looks alike).
 */
export function isStoreFailure(error: unknown): boolean {
  if (error instanceof KeyrotorError) return error.code === 'STORE_UNAVAILABLE'
  return storeFailureIn(error) !== undefined
}

/**
 * The coded error for a store that cannot serve: retryable (the CLI exits 8, HTTP answers 503
 * with Retry-After). The detail names the condition, never a query or its parameters.
 */
export function storeUnavailable(cause: unknown, what = 'the store'): KeyrotorError {
  if (cause instanceof KeyrotorError && cause.code === 'STORE_UNAVAILABLE') return cause
  const code = codeOf(cause)
  const reason = describe(code, cause)
  return new KeyrotorError('STORE_UNAVAILABLE', `${what} cannot serve now (${reason}); retry later`, {
    retryable: true,
    ...(code === undefined ? {} : { details: { storeCode: code } }),
    cause,
  })
}

function describe(code: string | undefined, error: unknown): string {
  if (code === '53100' || code === 'SQLITE_FULL' || code === 'ENOSPC') return 'its disk is full'
  if (code === '40P01') return 'deadlock, retries exhausted'
  if (code === '40001') return 'serialization failure, retries exhausted'
  if (
    code?.startsWith('SQLITE_CORRUPT') === true ||
    code === 'SQLITE_NOTADB' ||
    code?.startsWith('XX') === true
  )
    return 'the database file is damaged'
  if (code?.startsWith('SQLITE_IOERR') === true || code === 'EIO' || code === '58030') return 'I/O error'
  if (code?.startsWith('SQLITE_READONLY') === true || code === 'EROFS') return 'the database is read-only'
  if (code === 'SQLITE_BUSY') return 'the database is locked'
  if (isLostConnection(error) || code?.startsWith('57P') === true) return 'the database connection was lost'
  return code ?? 'database error'
}
