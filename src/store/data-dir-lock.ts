import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import SqliteDatabase from 'better-sqlite3'
import { KeyrotorError } from '../errors.js'

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
  const lock = new SqliteDatabase(join(dataDir, LOCK_FILE), { timeout: 0 })
  try {
    lock.pragma('locking_mode = EXCLUSIVE')
    lock.exec('CREATE TABLE IF NOT EXISTS owner (pid INTEGER, since TEXT)')
    // the first write takes the exclusive lock; in this locking mode it is kept until close
    lock.prepare('INSERT INTO owner (pid, since) VALUES (?, ?)').run(process.pid, new Date().toISOString())
  } catch (error) {
    lock.close()
    const owner = readOwner(dataDir)
    throw new KeyrotorError(
      'CONFLICT',
      `data dir ${dataDir} is in use by another keyrotor process${owner === null ? '' : ` (pid ${owner})`}: ` +
        'two servers can never share a SQLite data dir; use PostgreSQL (--database postgres://…) for several instances',
      { cause: error },
    )
  }
  writeFileSync(join(dataDir, OWNER_FILE), `${process.pid}\n`, { mode: 0o600 })
  return { release: () => lock.close() }
}

function readOwner(dataDir: string): string | null {
  try {
    return readFileSync(join(dataDir, OWNER_FILE), 'utf8').trim()
  } catch {
    return null
  }
}
