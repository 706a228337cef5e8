import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { KeyrotorError } from '../errors.js'
import { storeFailureIn, storeUnavailable } from './store-errors.js'

export const LOCK_FILE = 'keyrotor.lock'
const OWNER_FILE = 'keyrotor.pid'

export interface DataDirLock {
  release(): void
}

/**
 * Makes this process the only one using a SQLite data dir. The lock is an exclusive SQLite lock
 * (an OS file lock) held for the life of the process: the OS drops it when the process dies,
 * even by SIGKILL, so holding it also proves that any earlier server on this dir is gone.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  let lock: SqliteDatabase.Database | undefined
  try {
    lock = new SqliteDatabase(join(dataDir, LOCK_FILE), { timeout: 0 })
    lock.pragma('locking_mode = EXCLUSIVE')
    lock.exec('CREATE TABLE IF NOT EXISTS owner (pid INTEGER, since TEXT)')
    // the first write takes the exclusive lock; in this locking mode it is kept until close
    lock.prepare('INSERT INTO owner (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString())
    writeFileSync(join(dataDir, OWNER_FILE), `${process.pid}\n`, { mode: 0o600 })
  } catch (error) {
    lock?.close()
    throw lockError(dataDir, error)
  }
  const held = lock
  return { release: () => held.close() }
}

/**
 * Only SQLITE_BUSY/LOCKED means another process holds the lock. Anything else (a full disk, an
 * I/O error, a read-only mount) is the data dir failing, and is said so: naming the pid of an
 * earlier, dead server would send an operator hunting for a process that does not exist.
 */
function lockError(dataDir: string, error: unknown): KeyrotorError {
  const code = (error as { code?: unknown }).code
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    const owner = readOwner(dataDir)
    const alive = owner !== null && isAlive(Number(owner))
    return new KeyrotorError(
      'CONFLICT',
      `data dir ${dataDir} is in use by another keyrotor process${alive ? ` (pid ${owner})` : ''}: ` +
        'two servers can never share a SQLite data dir; use PostgreSQL (--database postgres://…) for several instances',
      { cause: error },
    )
  }
  const failure = storeFailureIn(error)
  const reason =
    failure !== undefined
      ? storeUnavailable(failure).message
      : error instanceof Error
        ? error.message
        : String(error)
  return new KeyrotorError(
    'STORE_UNAVAILABLE',
    `cannot lock data dir ${dataDir}: ${reason} (not a conflict with another process)`,
    { retryable: true, cause: error },
  )
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists, owned by someone else
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readOwner(dataDir: string): string | null {
  try {
    return readFileSync(join(dataDir, OWNER_FILE), 'utf8').trim()
  } catch {
    return null
  }
}
