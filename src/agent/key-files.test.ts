import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { currentTarget, pointCurrent, writeAtomic } from './key-files.js'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})
const root = process.getuid?.() === 0

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyrotor-key-files-'))
  dirs.push(dir)
  return dir
}

describe('version files', () => {
  it('writes 0600 files owned like the file they replace (or the directory), leaving no temporary file', async () => {
    const dir = tempDir()
    // as root (how the agent runs to serve a service user), ownership is what this checks
    if (root) chownSync(dir, 4242, 4242)
    await writeAtomic(dir, 'v1.pem', Buffer.from('one'))
    const first = statSync(join(dir, 'v1.pem'))
    expect(first.mode & 0o777).toBe(0o600)
    expect([first.uid, first.gid]).toEqual([statSync(dir).uid, statSync(dir).gid])

    writeFileSync(join(dir, 'v2.pem'), 'old', { mode: 0o644 })
    if (root) chownSync(join(dir, 'v2.pem'), 4343, 4343)
    const owner = statSync(join(dir, 'v2.pem'))
    await writeAtomic(dir, 'v2.pem', Buffer.from('new'))
    const replaced = statSync(join(dir, 'v2.pem'))
    expect(readFileSync(join(dir, 'v2.pem'), 'utf8')).toBe('new')
    expect(replaced.mode & 0o777).toBe(0o600)
    expect([replaced.uid, replaced.gid]).toEqual([owner.uid, owner.gid])
    expect(readdirSync(dir).sort()).toEqual(['v1.pem', 'v2.pem'])
  })

  it('moves current from one version to the next and removes it', async () => {
    const dir = tempDir()
    await writeAtomic(dir, 'v1.key', Buffer.from('1'))
    await writeAtomic(dir, 'v2.key', Buffer.from('2'))
    await pointCurrent(dir, 'v1.key')
    await pointCurrent(dir, 'v2.key')
    expect(await currentTarget(dir)).toBe('v2.key')
    expect(readFileSync(join(dir, 'current'), 'utf8')).toBe('2')
    await pointCurrent(dir, null)
    expect(await currentTarget(dir)).toBeNull()
    expect(readdirSync(dir).sort()).toEqual(['v1.key', 'v2.key'])
  })
})
