import { createHash } from 'node:crypto'
import type { KeyrotorConfig } from './schema.js'

/**
 * The identity of a configuration: sha256 (hex) of its canonical JSON. It is taken over the
 * validated config with defaults filled in, so comments, formatting, key order and spelling out a
 * default do not change it; any change in meaning does. The stored active config version carries
 * this hash, which is how a server notices that the file on disk has drifted from it.
 */
export function configHash(config: KeyrotorConfig): string {
  // a parsed config is deep-frozen: its hash cannot change, and at start the file's config is
  // hashed by more than one caller (canonical JSON of 100,000 keys takes seconds)
  const known = hashes.get(config)
  if (known !== undefined) return known
  const hash = hashOf(config)
  hashes.set(config, hash)
  return hash
}

const hashes = new WeakMap<KeyrotorConfig, string>()

function hashOf(config: KeyrotorConfig): string {
  // a config without provider instances hashes as it did before `providers` existed, so an
  // upgraded server does not see every stored active version as drifted from its file
  const { providers, ...rest } = config
  const identity = Object.keys(providers).length === 0 ? rest : config
  return createHash('sha256').update(canonicalJson(identity)).digest('hex')
}

/** JSON with object keys sorted at every depth and undefined members left out. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, unknown> = {}
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key]
      if (member !== undefined) sorted[key] = sortKeys(member)
    }
    return sorted
  }
  return value
}
