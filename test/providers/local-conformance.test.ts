import { randomBytes } from 'node:crypto'
import { ALGORITHMS } from '../../src/domain/algorithms.js'
import { createLocalProvider } from '../../src/providers/local/local-provider.js'
import { runProviderConformance } from './conformance.js'

runProviderConformance('local', async ({ db }) => ({
  provider: createLocalProvider({ db, masterKey: randomBytes(32) }),
  exportable: true,
  algorithms: ALGORITHMS,
  instanceYaml: null,
  async tamper(store, key, version, change) {
    if (change === 'lost') {
      await store
        .deleteFrom('local_keystore')
        .where('key_id', '=', key.keyId)
        .where('version', '=', version)
        .execute()
    } else {
      await store
        .updateTable('local_keystore')
        .set({ state: 'disabled' })
        .where('key_id', '=', key.keyId)
        .where('version', '=', version)
        .execute()
    }
  },
}))
