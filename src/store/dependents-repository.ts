import type { DependentConfig } from '../config/schema.js'
import type { Executor } from './database.js'
import { encodeNotify, encodeProbe } from './key-columns.js'

/**
 * A declared dependent as its row stores it. Only the name of a secret's variable is stored,
 * never its value (the notify config carries `secretEnv`).
 */
function dependentColumns(d: DependentConfig) {
  return {
    critical: d.critical ? 1 : 0,
    probe: encodeProbe(d.probe),
    notify: encodeNotify(d.notify),
  }
}

/** Registers a declared dependent of `keyId`, with nothing observed of it yet. */
export async function insertDependent(db: Executor, keyId: string, d: DependentConfig): Promise<void> {
  await db
    .insertInto('dependents')
    .values({
      key_id: keyId,
      name: d.name,
      ...dependentColumns(d),
      last_probe_at: null,
      last_accepts: null,
      last_active: null,
      last_error: null,
      last_notice: null,
      last_notice_at: null,
    })
    .execute()
}

/** Rewrites what the configuration declares of a registered dependent; its observations stay. */
export async function updateDependent(db: Executor, keyId: string, d: DependentConfig): Promise<void> {
  await db
    .updateTable('dependents')
    .set(dependentColumns(d))
    .where('key_id', '=', keyId)
    .where('name', '=', d.name)
    .execute()
}
