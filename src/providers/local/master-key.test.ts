import { randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { KeyrotorError } from '../../errors.js'
import { createMasterKey, loadMasterKey, masterKeyPath } from './master-key.js'

let dataDir: string

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'keyrotor-master-'))
})
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true })
})

/** The error `fn` throws, checked to be a KeyrotorError with INVALID_CONFIG. */
function configError(fn: () => unknown): KeyrotorError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(KeyrotorError)
    expect((error as KeyrotorError).code).toBe('INVALID_CONFIG')
    return error as KeyrotorError
  }
  throw new Error('expected an error')
}

describe('createMasterKey', () => {
  it('writes 32 random bytes as base64 in master.key with mode 0600', () => {
    const key = createMasterKey(dataDir)
    expect(key).toHaveLength(32)
    const file = masterKeyPath(dataDir)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').equals(key)).toBe(true)
  })

  it('creates a missing data dir', () => {
    const nested = join(dataDir, 'a', 'b')
    createMasterKey(nested)
    expect(statSync(masterKeyPath(nested)).isFile()).toBe(true)
  })

  it('refuses to overwrite an existing master key and leaves it intact', () => {
    const first = createMasterKey(dataDir)
    const error = configError(() => createMasterKey(dataDir))
    expect(error.message).toMatch(/already exists/)
    expect(loadMasterKey({ dataDir }).equals(first)).toBe(true)
  })
})

describe('loadMasterKey', () => {
  it('reads back the key createMasterKey wrote', () => {
    const key = createMasterKey(dataDir)
    expect(loadMasterKey({ dataDir }).equals(key)).toBe(true)
  })

  it('prefers the environment value over the file', () => {
    createMasterKey(dataDir)
    const fromEnv = randomBytes(32)
    expect(loadMasterKey({ dataDir, fromEnv: fromEnv.toString('base64') }).equals(fromEnv)).toBe(true)
  })

  it('reads the file when the environment value is undefined', () => {
    const key = createMasterKey(dataDir)
    expect(loadMasterKey({ dataDir, fromEnv: undefined }).equals(key)).toBe(true)
  })

  it('names the missing file and how to create it', () => {
    const error = configError(() => loadMasterKey({ dataDir }))
    expect(error.message).toContain(masterKeyPath(dataDir))
    expect(error.message).toMatch(/does not exist.*keyrotor init/)
  })

  it('refuses a file readable by group or others, naming its mode', () => {
    createMasterKey(dataDir)
    chmodSync(masterKeyPath(dataDir), 0o644)
    const error = configError(() => loadMasterKey({ dataDir }))
    expect(error.message).toContain('0644')
    expect(error.message).toContain('chmod 600')
  })

  it('refuses a file of the wrong length without printing its content', () => {
    const short = randomBytes(16).toString('base64')
    writeFileSync(masterKeyPath(dataDir), short, { mode: 0o600 })
    const error = configError(() => loadMasterKey({ dataDir }))
    expect(error.message).toMatch(/must hold 32 bytes.*holds 16/)
    expect(error.message).not.toContain(short)
  })

  it.each([
    ['too short', randomBytes(31).toString('base64'), /holds 31/],
    ['not base64', `${randomBytes(32).toString('base64')}!`, /not base64/],
    ['empty', '', /is empty/],
  ])(
    'refuses an environment value that is %s, naming the variable but not the value',
    (_what, value, why) => {
      createMasterKey(dataDir)
      const error = configError(() => loadMasterKey({ dataDir, fromEnv: value }))
      expect(error.message).toContain('KEYROTOR_MASTER_KEY')
      expect(error.message).toMatch(why)
      if (value !== '') expect(error.message).not.toContain(value)
    },
  )
})
