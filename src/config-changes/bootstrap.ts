import { configHash } from '../config/config-hash.js'
import type { KeyrotorConfig } from '../config/schema.js'
import type { EngineDeps } from '../engine/engine-deps.js'
import { enrollKey } from '../engine/keys/key-enrollment.js'

export type BootstrapOutcome =
  | { status: 'applied'; version: number; enrolled: string[] }
  | { status: 'unchanged'; version: number }
  /** The file differs from the active version: reported, never applied silently. */
  | { status: 'differs'; version: number; activeHash: string; fileHash: string }
  | { status: 'none' }

export interface ActiveConfig {
  version: number
  hash: string
  config: KeyrotorConfig
}

/**
 * The first start takes the config file as version 1 and enrolls its keys. Later starts compare
 * the file with the active version and only report a difference: changing the active config is
 * a reviewed change (config propose/approve/apply), not a side effect of a restart.
 */
export async function bootstrapConfig(
  deps: Pick<EngineDeps, 'db' | 'providers' | 'audit' | 'now'>,
  file: { config: KeyrotorConfig; text: string; source: string } | undefined,
  actor: string,
): Promise<BootstrapOutcome> {
  const active = await deps.db
    .selectFrom('config_versions')
    .select(['version', 'hash'])
    .where('active', '=', 1)
    .executeTakeFirst()
  if (file === undefined)
    return active === undefined ? { status: 'none' } : { status: 'unchanged', version: active.version }
  const fileHash = configHash(file.config)
  if (active !== undefined) {
    if (active.hash === fileHash) {
      // a crash during the first enrollment left keys undone: finish them (enrolling is idempotent)
      await enrollAll(deps, file.config, actor, active.version)
      return { status: 'unchanged', version: active.version }
    }
    return { status: 'differs', version: active.version, activeHash: active.hash, fileHash }
  }
  await deps.db.transaction().execute(async (trx) => {
    await trx
      .insertInto('config_versions')
      .values({
        version: 1,
        hash: fileHash,
        body: file.text,
        source: file.source,
        created_at: deps.now().toISOString(),
        created_by: actor,
        active: 1,
      })
      .execute()
    await deps.audit.append(trx, {
      actor,
      action: 'config.bootstrapped',
      target: 'config:v1',
      details: { source: file.source, hash: fileHash, keys: file.config.keys.length },
    })
  })
  const enrolled = await enrollAll(deps, file.config, actor, 1)
  return { status: 'applied', version: 1, enrolled }
}

async function enrollAll(
  deps: Pick<EngineDeps, 'db' | 'providers' | 'audit' | 'now'>,
  config: KeyrotorConfig,
  actor: string,
  configVersion: number,
): Promise<string[]> {
  // one read of the enrolled ids instead of a lookup per key: a restart of a server with 100,000
  // keys found them all enrolled in one query, not 100,000 (enrollKey still checks the one it does)
  const known = new Set((await deps.db.selectFrom('keys').select('id').execute()).map((row) => row.id))
  const enrolled: string[] = []
  for (const key of config.keys) {
    if (known.has(key.id)) continue
    if (await enrollKey(deps, key, { actor, configVersion })) enrolled.push(key.id)
  }
  return enrolled
}

/** The active configuration, parsed back from the stored text. */
export async function activeConfigVersion(
  deps: Pick<EngineDeps, 'db'>,
): Promise<{ version: number; hash: string; createdAt: string; createdBy: string } | undefined> {
  const row = await deps.db
    .selectFrom('config_versions')
    .select(['version', 'hash', 'created_at', 'created_by'])
    .where('active', '=', 1)
    .executeTakeFirst()
  return row === undefined
    ? undefined
    : { version: row.version, hash: row.hash, createdAt: row.created_at, createdBy: row.created_by }
}
