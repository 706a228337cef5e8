import { execFileSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A small tmpfs of its own: a volume a test can fill up without filling the machine's disk. */
export interface SmallVolume {
  dir: string
  /** Writes a filler file until the volume refuses (ENOSPC). */
  fill(): void
  /** Removes the filler: space returns. */
  free(): void
  unmount(): void
}

export function mountTmpfs(sizeMb: number): SmallVolume {
  const dir = mkdtempSync(join(tmpdir(), 'keyrotor-volume-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (error) {
    rmdirSync(dir)
    throw error
  }
  const filler = join(dir, 'filler')
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a')
      try {
        // large writes first, then single pages: the volume ends up with no block left
        for (const size of [1 << 20, 4096, 1]) {
          const chunk = Buffer.alloc(size, 0x61)
          try {
            for (;;) writeSync(fd, chunk)
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
          }
        }
      } finally {
        closeSync(fd)
      }
    },
    free() {
      rmSync(filler, { force: true })
    },
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
      rmdirSync(dir)
    },
  }
}

let probed: boolean | undefined

/**
 * Whether this machine lets the tests mount a tmpfs (root, or a container allowed to mount).
 * Where it does not, the disk-full suites are skipped with a notice, except under CI=true.
 */
export function canMountTmpfs(): boolean {
  if (probed !== undefined) return probed
  try {
    mountTmpfs(1).unmount()
    probed = true
  } catch (error) {
    if (process.env.CI === 'true')
      throw new Error('CI=true but a tmpfs cannot be mounted for the disk-full tests', { cause: error })
    console.warn('NOTICE: cannot mount a tmpfs here (not root?); the disk-full suites are skipped')
    probed = false
  }
  return probed
}
