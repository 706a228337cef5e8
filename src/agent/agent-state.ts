import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeAtomic } from './key-files.js'

const STATE_FILE = '.keyrotor-agent.json'

/** What the agent has provably handed the service for one key; written after every change. */
export interface KeyState {
  key: string
  /** Version → its file name in the output dir. Only versions whose reload and health check passed. */
  files: Record<string, string>
  active: number | null
  providerRefs: Record<string, string>
  /** Signatures of notices already applied, with when they go stale (ms): a replay gets 401. */
  seen: Record<string, number>
}

export function emptyState(key: string): KeyState {
  return { key, files: {}, active: null, providerRefs: {}, seen: {} }
}

export async function loadState(dir: string, key: string): Promise<KeyState> {
  let text: string
  try {
    text = await readFile(join(dir, STATE_FILE), 'utf8')
  } catch {
    return emptyState(key)
  }
  const parsed = JSON.parse(text) as Partial<KeyState>
  if (parsed.key !== key)
    throw new Error(`${join(dir, STATE_FILE)} belongs to key ${String(parsed.key)}, not ${key}`)
  return { ...emptyState(key), ...parsed }
}

export async function saveState(dir: string, state: KeyState): Promise<void> {
  await writeAtomic(dir, STATE_FILE, Buffer.from(`${JSON.stringify(state, null, 2)}\n`))
}
