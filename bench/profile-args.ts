import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'

/** Where `--cpu-prof` benches leave their .cpuprofile files (summarise with bench/profile-summary.ts). */
export const PROFILE_DIR = resolve(process.cwd(), 'bench-profiles')

/**
 * Node flags that make a child process write a CPU profile named after `name` when it exits, or
 * none when profiling is off. Children only: the bench's own process profiles itself when started
 * with `node --cpu-prof`.
 */
export function cpuProfArgs(enabled: boolean | undefined, name: string): string[] {
  if (enabled !== true) return []
  mkdirSync(PROFILE_DIR, { recursive: true })
  return ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`]
}
