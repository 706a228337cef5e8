import { configHash } from '../config/config-hash.js'
import { parseConfig } from '../config/load-config.js'
import type { KeyrotorConfig } from '../config/schema.js'
import type { Executor } from './database.js'

// Parsed configurations by version and content hash. Every phase gate asks for the active config;
// parsing YAML each time would be wasteful, and keying by the hash too keeps two stores in one
// process (tests) from ever sharing an entry. A pure memo, so it is safe at module level.
const parsed = new Map<string, KeyrotorConfig>()

/**
 * The active configuration (the `config_versions` row with active = 1), parsed from its stored
 * text; null before any config was bootstrapped. One cheap lookup of the active version per call,
 * so a newly applied version is seen at once; the text is parsed once per version.
 *
 * `sameAs` is a config already parsed (the file at start): when its hash is the active version's,
 * it is that version, and the stored text is not parsed a second time (seconds for a large fleet).
 */
export async function loadActiveConfig(
  db: Executor,
  sameAs?: KeyrotorConfig,
): Promise<KeyrotorConfig | null> {
  const active = await db
    .selectFrom('config_versions')
    .select(['version', 'hash'])
    .where('active', '=', 1)
    .executeTakeFirst()
  if (active === undefined) return null
  const id = `${active.version}:${active.hash}`
  const cached = parsed.get(id)
  if (cached !== undefined) return cached
  if (sameAs !== undefined && configHash(sameAs) === active.hash) {
    remember(id, sameAs)
    return sameAs
  }
  const row = await db
    .selectFrom('config_versions')
    .select('body')
    .where('version', '=', active.version)
    .executeTakeFirstOrThrow()
  const config = parseConfig(row.body, `config version ${active.version}`)
  remember(id, config)
  return config
}

function remember(id: string, config: KeyrotorConfig): void {
  if (parsed.size >= 64) parsed.clear()
  parsed.set(id, config)
}
