import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KeyrotorError } from '../../errors.js'

/**
 * The master key seals every version in the local keystore. It lives in `master.key` (base64
 * text, mode 0600) in the data dir, or comes from KEYROTOR_MASTER_KEY, which main.ts reads and
 * passes in as `fromEnv`. No error message here ever contains the key or a part of it.
 */

export const MASTER_KEY_FILE = 'master.key'
export const MASTER_KEY_ENV = 'KEYROTOR_MASTER_KEY'
export const MASTER_KEY_BYTES = 32

export function masterKeyPath(dataDir: string): string {
  return join(dataDir, MASTER_KEY_FILE)
}

/** Writes a fresh random master key to `{dataDir}/master.key` (0600) and returns it; never overwrites. */
export function createMasterKey(dataDir: string): Buffer {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const file = masterKeyPath(dataDir)
  const key = randomBytes(MASTER_KEY_BYTES)
  try {
    // 'wx' creates exclusively: an existing key (which seals existing material) is never replaced
    writeFileSync(file, `${key.toString('base64')}\n`, { flag: 'wx', mode: 0o600 })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new KeyrotorError(
        'INVALID_CONFIG',
        `master key file ${file} already exists; refusing to overwrite it (the keystore is sealed under it)`,
      )
    }
    throw new KeyrotorError('INTERNAL', `cannot write master key file ${file}: ${errnoOf(error)}`, {
      cause: error,
    })
  }
  // the process umask may only have narrowed the mode, but make it exact regardless
  chmodSync(file, 0o600)
  return key
}

/** The master key from `fromEnv` (base64 of 32 bytes) if given, else from `{dataDir}/master.key`. */
export function loadMasterKey({
  dataDir,
  fromEnv,
}: {
  dataDir: string
  fromEnv?: string | undefined
}): Buffer {
  if (fromEnv !== undefined) return decode(fromEnv, `environment variable ${MASTER_KEY_ENV}`)
  const file = masterKeyPath(dataDir)
  let mode: number
  try {
    mode = statSync(file).mode
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new KeyrotorError(
        'INVALID_CONFIG',
        `master key file ${file} does not exist; run \`keyrotor init --data-dir ${dataDir}\` or set ${MASTER_KEY_ENV}`,
      )
    }
    throw new KeyrotorError('INVALID_CONFIG', `cannot read master key file ${file}: ${errnoOf(error)}`)
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0')
    throw new KeyrotorError(
      'INVALID_CONFIG',
      `master key file ${file} is accessible by group or others (mode ${octal}); run \`chmod 600 ${file}\``,
    )
  }
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new KeyrotorError('INVALID_CONFIG', `cannot read master key file ${file}: ${errnoOf(error)}`)
  }
  return decode(text, `master key file ${file}`)
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/

function decode(text: string, source: string): Buffer {
  const trimmed = text.trim()
  if (trimmed.length === 0) throw new KeyrotorError('INVALID_CONFIG', `${source} is empty`)
  // Buffer.from silently skips characters that are not base64; check first so typos are caught
  if (!BASE64.test(trimmed)) throw new KeyrotorError('INVALID_CONFIG', `${source} is not base64`)
  const key = Buffer.from(trimmed, 'base64')
  if (key.length !== MASTER_KEY_BYTES) {
    throw new KeyrotorError(
      'INVALID_CONFIG',
      `${source} must hold ${MASTER_KEY_BYTES} bytes in base64, but holds ${key.length}`,
    )
  }
  return key
}

function errnoOf(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? 'unknown error'
}
