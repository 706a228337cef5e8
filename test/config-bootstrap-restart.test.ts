import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { configHash } from '../src/config/config-hash.js'
import { parseConfig } from '../src/config/load-config.js'
import { runInit, startKeyrotor } from '../src/main.js'
import { openStore } from '../src/store/database.js'
import { DIALECTS, createTestStore, type TestStore } from './helpers/stores.js'

const YAML = `keys:
${['a', 'b', 'c']
  .map((id) => `  - { id: boot-${id}, provider: local, algorithm: aes-256-gcm, owner: ops, dependents: [] }`)
  .join('\n')}
`

describe.each(DIALECTS)('config bootstrap on restart (%s)', (dialect) => {
  let store: TestStore | undefined
  afterEach(async () => {
    await store?.dispose()
    store = undefined
  })

  it('enrols the keys a crash left undone, and only those, once', async () => {
    store = await createTestStore(dialect)
    await runInit(store.openOptions)
    const configPath = join(store.dataDir, 'keyrotor.yaml')
    writeFileSync(configPath, YAML)
    // a first start that stored config version 1 and crashed before it enrolled the keys
    const config = parseConfig(YAML, configPath)
    await store.db
      .insertInto('config_versions')
      .values({
        version: 1,
        hash: configHash(config),
        body: YAML,
        source: configPath,
        created_at: new Date().toISOString(),
        created_by: 'keyrotor',
        active: 1,
      })
      .execute()
    const first = await startKeyrotor({ ...store.openOptions, configPath, port: 0, logLevel: 'silent' })
    await first.close()
    const enrolledOnce = await enrolments(store)
    expect(enrolledOnce).toEqual(['boot-a', 'boot-b', 'boot-c'])

    // a second restart finds every key enrolled: nothing is enrolled again
    const second = await startKeyrotor({ ...store.openOptions, configPath, port: 0, logLevel: 'silent' })
    await second.close()
    expect(await enrolments(store)).toEqual(enrolledOnce)
    const keys = await store.db.selectFrom('keys').select('id').orderBy('id').execute()
    expect(keys.map((k) => k.id)).toEqual(['boot-a', 'boot-b', 'boot-c'])
  })
})

/** Targets of the `key.enrolled` audit records, in order (read through a fresh connection). */
async function enrolments(store: TestStore): Promise<string[]> {
  const reader = openStore(store.openOptions)
  try {
    const rows = await reader.db
      .selectFrom('audit_events')
      .select('target')
      .where('action', '=', 'key.enrolled')
      .orderBy('target')
      .execute()
    return rows.map((row) => row.target ?? '')
  } finally {
    await reader.close()
  }
}
