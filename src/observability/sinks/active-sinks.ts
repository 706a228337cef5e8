import type { Kysely } from 'kysely'
import { loadActiveConfig } from '../../store/config-versions-repository.js'
import type { Database } from '../../store/tables.js'
import { sinkTargets, type SinkTarget } from './sink.js'

/**
 * The sinks of the ACTIVE config version (config_versions.active), not of the file a server was
 * started with: a file that differs is never applied silently, and an applied change reaches
 * every instance at its next outbox pass. `loadActiveConfig` parses once per version.
 */
export function activeSinkTargets(
  db: Kysely<Database>,
  secretOf: (name: string) => string | undefined,
): () => Promise<readonly SinkTarget[]> {
  return async () => {
    const config = await loadActiveConfig(db)
    return config === null ? [] : sinkTargets(config.notifications, secretOf)
  }
}
