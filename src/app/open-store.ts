import { lockDataDir, type DataDirLock } from '../store/data-dir-lock.js'
import { isPostgresUrl, migrate, openStore, type Store } from '../store/database.js'
import { expireLeases } from '../store/runs-repository.js'
import type { StartOptions } from './start-options.js'

/** The store, migrated; on SQLite also this process's lock on the data dir. */
export async function openServerStore(
  options: StartOptions,
): Promise<{ store: Store; lock: DataDirLock | undefined }> {
  // one process per SQLite data dir; holding the lock proves an earlier server is gone
  const lock = isPostgresUrl(options.databaseUrl) ? undefined : lockDataDir(options.dataDir)
  const store = openStore({
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    schema: options.schema,
  })
  await migrate(store.db)
  // so the runs an earlier (dead) process held are resumed at once, not after their lease
  if (lock !== undefined) await expireLeases(store.db, new Date())
  return { store, lock }
}
