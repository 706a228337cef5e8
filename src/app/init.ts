import { bootstrapAdmin } from '../governance/bootstrap-admin.js'
import { createMasterKey, loadMasterKey } from '../providers/local/master-key.js'
import { migrate, openStore } from '../store/database.js'

/** `keyrotor init`: the store, its schema, the master key (0600) and the admin token, shown once. */
export async function runInit(options: {
  dataDir: string
  databaseUrl?: string | undefined
  schema?: string | undefined
  masterKey?: string | undefined
}): Promise<{ adminToken: string }> {
  const store = openStore(options)
  try {
    await migrate(store.db)
    if (options.masterKey === undefined) createMasterKey(options.dataDir)
    else loadMasterKey({ dataDir: options.dataDir, fromEnv: options.masterKey })
    const { token } = await bootstrapAdmin(store.db)
    return { adminToken: token }
  } finally {
    await store.close()
  }
}
