import { createHash } from 'node:crypto'
import { JWKS_MEMORY_TTL_MS } from './jwks-publication.js'

/** The JWKS of one key as served: the exact body, its ETag and the Cache-Control max-age. */
export interface JwksDocument {
  body: string
  etag: string
  maxAgeSeconds: number
}

// Enough for every key of a large fleet; past it (a flood of made-up key ids) the map starts over.
const MAX_ENTRIES = 10_000

/**
 * Serves each key's JWKS from memory for JWKS_MEMORY_TTL_MS, so a flood of requests (verifiers
 * refetching on unknown kids) costs one store read per key per second per instance, not one per
 * request. Concurrent misses share one load; a refusal (unknown key) is remembered as long.
 */
export function createJwksCache(deps: {
  load: (keyId: string) => Promise<{ keys: unknown[]; maxAgeSeconds: number }>
  now?: () => number
  ttlMs?: number
}) {
  const now = deps.now ?? Date.now
  const ttlMs = deps.ttlMs ?? JWKS_MEMORY_TTL_MS
  const entries = new Map<string, { at: number; document: Promise<JwksDocument> }>()

  async function build(keyId: string): Promise<JwksDocument> {
    const { keys, maxAgeSeconds } = await deps.load(keyId)
    const body = JSON.stringify({ keys })
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`
    return { body, etag, maxAgeSeconds }
  }

  return {
    get(keyId: string): Promise<JwksDocument> {
      const cached = entries.get(keyId)
      if (cached !== undefined && now() - cached.at < ttlMs) return cached.document
      if (entries.size >= MAX_ENTRIES) entries.clear()
      const document = build(keyId)
      entries.set(keyId, { at: now(), document })
      return document
    },
    /** Drops a key's document: this instance changed its versions. */
    invalidate(keyId: string): void {
      entries.delete(keyId)
    },
  }
}

export type JwksCache = ReturnType<typeof createJwksCache>

/** Whether an `If-None-Match` header names this ETag (a list, weak forms and `*` included). */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const bare = (tag: string) => tag.trim().replace(/^W\//, '')
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || bare(tag) === etag)
}
