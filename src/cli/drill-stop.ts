import { readdirSync, rmSync, rmdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { SANDBOX_FILES, isAlive, type SandboxState } from '../drills/sandbox-state.js'

const GRACE_MS = 15_000

/**
 * Stops the sandbox process (SIGTERM, then SIGKILL after a grace period) and removes the files
 * it made. Resolves true when there was a process to stop.
 */
export async function stopSandbox(dir: string, state: SandboxState | undefined): Promise<boolean> {
  let stopped = false
  if (state !== undefined && isAlive(state.pid)) {
    stopped = true
    process.kill(state.pid, 'SIGTERM')
    const deadline = Date.now() + GRACE_MS
    while (isAlive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    if (isAlive(state.pid)) process.kill(state.pid, 'SIGKILL')
    while (isAlive(state.pid)) await new Promise((r) => setTimeout(r, 50))
  }
  removeSandbox(dir)
  return stopped
}

/** Removes exactly the sandbox's own files, and the dir only when nothing else is left in it. */
export function removeSandbox(dir: string): void {
  for (const name of [...Object.values(SANDBOX_FILES), `${SANDBOX_FILES.state}.tmp`]) {
    rmSync(resolve(dir, name), { recursive: true, force: true })
  }
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir)
  } catch {
    // the dir was never made, or is not ours to remove
  }
}
