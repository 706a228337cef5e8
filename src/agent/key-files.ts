import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, lstat, mkdir, open, readlink, rename, stat, symlink, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { JWK } from 'jose'
import { KeyrotorError } from '../errors.js'
import type { AgentRole, OutputFormat } from './agent-config.js'

export const CURRENT = 'current'

/** What a version's file holds: its material in the configured format, or a backend's providerRef. */
export type Handed = { kind: 'material'; jwk: JWK } | { kind: 'providerRef'; providerRef: string }

/** `v3.pem`, `v3.jwk`, `v3.key` (raw), or `v3.ref` for a version whose material stays in its backend. */
export function fileNameOf(version: number, format: OutputFormat, handed: Handed['kind']): string {
  if (handed === 'providerRef') return `v${version}.ref`
  return `v${version}.${format === 'raw' ? 'key' : format}`
}

/** The bytes of a version's file. PEM is PKCS#8 for private keys, SPKI for the verify role's public keys. */
export function contentOf(
  key: string,
  version: number,
  format: OutputFormat,
  role: AgentRole,
  handed: Handed,
): Buffer {
  if (handed.kind === 'providerRef') return Buffer.from(`${handed.providerRef}\n`)
  const jwk = handed.jwk
  const what = `${key} v${version}`
  if (format === 'jwk') return Buffer.from(`${JSON.stringify(jwk)}\n`)
  if (format === 'raw') {
    if (jwk.kty !== 'oct' || typeof jwk.k !== 'string')
      throw new KeyrotorError(
        'INVALID_CONFIG',
        `${what} is not a secret key: output.format raw needs one; use pem or jwk`,
      )
    return Buffer.from(jwk.k, 'base64url')
  }
  if (jwk.kty === 'oct')
    throw new KeyrotorError(
      'INVALID_CONFIG',
      `${what} is a secret key: output.format pem needs a key pair; use raw or jwk`,
    )
  const source = { key: jwk as Parameters<typeof createPublicKey>[0] & object, format: 'jwk' as const }
  const pem =
    role === 'verify' || jwk.d === undefined
      ? createPublicKey(source as never).export({ type: 'spki', format: 'pem' })
      : createPrivateKey(source as never).export({ type: 'pkcs8', format: 'pem' })
  return Buffer.from(pem)
}

/**
 * Creates the output dir if needed (0700) and proves it writable by writing and removing a file:
 * an agent that could not hand over a version must not start.
 */
export async function assertWritableDir(dir: string, key: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await access(dir, constants.W_OK)
    await writeAtomic(dir, '.keyrotor-agent-write-test', Buffer.from('ok'))
    await unlink(join(dir, '.keyrotor-agent-write-test'))
    await syncDir(dir)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw new KeyrotorError('INVALID_CONFIG', `output dir ${dir} of key ${key} is not writable (${code})`)
  }
}

/**
 * Writes `name` in `dir` so that a reader sees the old file or the whole new one, never a part,
 * even across a power cut: a temporary name, fsync, rename, then fsync of the directory. Mode
 * 0600; the owner of the file it replaces (or of the directory) is kept when running as root.
 */
export async function writeAtomic(dir: string, name: string, data: Buffer): Promise<void> {
  const target = join(dir, name)
  const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`)
  const owner = await stat(target).catch(() => stat(dir))
  const handle = await open(temp, 'wx', 0o600)
  try {
    await handle.writeFile(data)
    if (process.getuid?.() === 0) await handle.chown(owner.uid, owner.gid)
    await handle.sync()
  } catch (error) {
    await handle.close()
    await unlink(temp).catch(() => undefined)
    throw error
  }
  await handle.close()
  await rename(temp, target)
  await syncDir(dir)
}

/**
 * Points `{dir}/current` at `name`: a symlink replaced by rename, so the switch is atomic, the
 * material exists once on disk, and removing a version's file leaves nothing behind.
 */
export async function pointCurrent(dir: string, name: string | null): Promise<void> {
  const link = join(dir, CURRENT)
  if (name === null) {
    await unlink(link).catch(ignoreMissing)
  } else {
    const temp = join(dir, `.${CURRENT}.${randomBytes(6).toString('hex')}.tmp`)
    await symlink(name, temp)
    await rename(temp, link)
  }
  await syncDir(dir)
}

export async function currentTarget(dir: string): Promise<string | null> {
  try {
    if (!(await lstat(join(dir, CURRENT))).isSymbolicLink()) return null
    return await readlink(join(dir, CURRENT))
  } catch {
    return null
  }
}

export async function removeFile(dir: string, name: string): Promise<void> {
  await unlink(join(dir, name)).catch(ignoreMissing)
  await syncDir(dir)
}

export async function fileExists(dir: string, name: string): Promise<boolean> {
  return stat(join(dir, name)).then(
    (s) => s.isFile(),
    () => false,
  )
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error
}
