import { join } from 'node:path'
import type { Kysely } from 'kysely'
import { createAuditLog, type AuditLog } from '../audit/audit-log.js'
import { deriveAuditKey } from '../audit/chain.js'
import { sealUnchained } from '../audit/chain-store.js'
import {
  CHECKPOINT_FILE,
  createCheckpointer,
  readCheckpoints,
  type Checkpointer,
} from '../audit/checkpoints.js'
import { verifyChain, type ChainReport } from '../audit/verify-chain.js'
import type { Logger } from '../observability/logger.js'
import type { Database } from '../store/tables.js'
import type { StartOptions } from './start-options.js'

export interface AuditChain {
  audit: AuditLog
  /** Writes the chain's signed head outside the store. */
  checkpoints: Checkpointer
  /** `audit verify`: the chain in the store against the checkpoints in the data dir. */
  verify(): Promise<ChainReport>
}

/**
 * The audit log, its chain sealed up to the head and its checkpointer. The chain's key comes from
 * the master key: without it no one can rebuild the chain unseen.
 */
export async function openAuditChain(deps: {
  db: Kysely<Database>
  masterKey: Uint8Array
  options: StartOptions
  log: Logger
}): Promise<AuditChain> {
  const { db, options } = deps
  const key = deriveAuditKey(deps.masterKey)
  const file = join(options.dataDir, CHECKPOINT_FILE)
  const checkpoints = createCheckpointer({
    db,
    key,
    file,
    webhookUrl: options.auditCheckpointUrl,
    everyRecords: options.auditCheckpointEvery,
    intervalMs: options.auditCheckpointIntervalMs,
    log: deps.log,
  })
  await sealUnchained(db, key)
  const audit = createAuditLog({ chainKey: key, onAppend: () => checkpoints.noteAppend() })
  return {
    audit,
    checkpoints,
    verify: async () => verifyChain(db, key, await readCheckpoints(file, key)),
  }
}
