import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

/**
 * The YAML parse of a config text, kept on disk by the text's hash. Parsing keyrotor.yaml is the
 * whole of a large fleet's start-up (the `yaml` library: about 1 ms per key, 100,000 keys in a
 * 23 MB file); reading the same document back as JSON takes a fraction of it. Only the syntax step
 * is cached: the schema and semantic checks run on every start as before, on the same data.
 *
 * Exact by construction: the key is a hash of the text and of the parser's version, and only a
 * document that survives JSON unchanged (no infinities, no -0) is written. A cache that cannot be
 * read or written is ignored (the text is parsed, as without a cache).
 */
export interface ParsedYamlCache {
  read(text: string): unknown
  write(text: string, data: unknown): void
}

const PARSER = `yaml@${(createRequire(import.meta.url)('yaml/package.json') as { version: string }).version}`
const PREFIX = 'config-parse-'

/** A cache in `dir` (the data dir's `cache/`) holding the parse of the last text only. */
export function parsedYamlCacheIn(dir: string): ParsedYamlCache {
  const fileOf = (text: string) =>
    join(dir, `${PREFIX}${createHash('sha256').update(PARSER).update('\n').update(text).digest('hex')}.json`)
  return {
    read(text) {
      try {
        return JSON.parse(readFileSync(fileOf(text), 'utf8')) as unknown
      } catch {
        return undefined
      }
    },
    write(text, data) {
      if (!survivesJson(data)) return
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 })
        const file = fileOf(text)
        for (const old of readdirSync(dir))
          if (old.startsWith(PREFIX)) rmSync(join(dir, old), { force: true })
        // written whole or not at all: a reader never sees half a document
        writeFileSync(`${file}.tmp`, JSON.stringify(data), { mode: 0o600 })
        renameSync(`${file}.tmp`, file)
      } catch {
        // a read-only or full data dir: start-up parses the text next time too
      }
    },
  }
}

/** Whether JSON.parse(JSON.stringify(value)) gives `value` back exactly. */
function survivesJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true
  if (typeof value === 'number') return Number.isFinite(value) && !Object.is(value, -0)
  if (Array.isArray(value)) return value.every(survivesJson)
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.entries(value).every(([name, member]) => name !== '__proto__' && survivesJson(member))
  }
  return false
}
