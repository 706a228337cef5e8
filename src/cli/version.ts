import { readFileSync } from 'node:fs'

/**
 * The installed package's version, read from its package.json (three folders up from
 * dist/src/cli/, and from src/cli/ under tsx), so `--version` can never drift from what npm installed.
 */
export function packageVersion(): string {
  const candidates = ['../../../package.json', '../../package.json']
  for (const relative of candidates) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {
        name?: unknown
        version?: unknown
      }
      if (manifest.name === 'keyrotor' && typeof manifest.version === 'string') return manifest.version
    } catch {
      // not this candidate: try the next one
    }
  }
  return '0.0.0-unknown'
}
