import { readFileSync } from 'node:fs'
import type { Kysely } from 'kysely'
import { loadConfigFile } from '../config/load-config.js'
import type { ParsedYamlCache } from '../config/parsed-yaml-cache.js'
import type { KeyrotorConfig } from '../config/schema.js'
import type { BootstrapOutcome } from '../config-changes/bootstrap.js'
import type { Logger } from '../observability/logger.js'
import { isProviderAvailable, type ProviderRegistry } from '../providers/registry.js'
import { loadActiveConfig } from '../store/config-versions-repository.js'
import type { Database } from '../store/tables.js'

/** The config file a server was started with, parsed and as text (what a first start takes as version 1). */
export interface ConfigFile {
  config: KeyrotorConfig
  text: string
  source: string
}

export async function readConfigFile(
  path: string | undefined,
  cache: ParsedYamlCache,
): Promise<ConfigFile | undefined> {
  if (path === undefined) return undefined
  return {
    config: await loadConfigFile(path, { isProviderAvailable }, cache),
    text: readFileSync(path, 'utf8'),
    source: path,
  }
}

/**
 * The providers of the config in force (the active version; the file on a first start) must
 * answer before anything is enrolled on them or a run touches them.
 */
export async function configureProvidersInForce(
  db: Kysely<Database>,
  providers: Pick<ProviderRegistry, 'configure' | 'checkAll'>,
  file: ConfigFile | undefined,
): Promise<void> {
  const inForce = (await loadActiveConfig(db, file?.config)) ?? file?.config
  await providers.configure(inForce?.providers ?? {})
  await providers.checkAll(inForce?.keys)
}

/** A file that differs from the active version is NOT applied: it is said, once, at start. */
export function warnIfFileDiffers(logger: Logger, path: string | undefined, config: BootstrapOutcome): void {
  if (config.status !== 'differs') return
  logger.warn(
    { activeVersion: config.version, fileHash: config.fileHash, activeHash: config.activeHash },
    `${path} differs from active config version ${config.version}; it is NOT applied (propose it as a change)`,
  )
}
