import { chmod, appendFile, readFile } from 'node:fs/promises'
import type { Kysely } from 'kysely'
import type { Database } from '../store/tables.js'
import { checkpointSignatureValid, signCheckpoint, type Checkpoint } from './chain.js'
import { readHead } from './chain-store.js'
import type { CheckpointEvidence } from './verify-chain.js'

/** The default checkpoint file, in the data dir. */
export const CHECKPOINT_FILE = 'audit-checkpoints.jsonl'

/** Where and how often the chain's head is written down outside the store. */
export interface CheckpointerOptions {
  db: Kysely<Database>
  key: Uint8Array
  /** JSON lines file, created 0600. */
  file: string
  /** Also POSTed here as JSON, when given (failures are logged, never block the engine). */
  webhookUrl?: string | undefined
  /** A checkpoint after this many appends (default 100). */
  everyRecords?: number | undefined
  /** And every this many ms when the head moved (default 60 s). */
  intervalMs?: number | undefined
  now?: (() => Date) | undefined
  log: { warn(details: object, message: string): void }
}

/** Writes signed checkpoints of the chain's head, so cutting off the tail of the store shows. */
export interface Checkpointer {
  start(): void
  /** Counts one append (AuditLogDeps.onAppend); every `everyRecords` triggers a checkpoint. */
  noteAppend(): void
  /** Writes a checkpoint now unless the head has not moved since the last; resolves once written. */
  checkpoint(): Promise<Checkpoint | undefined>
  /** Stops the timer and writes a last checkpoint (call before closing the store). */
  stop(): Promise<void>
}

export function createCheckpointer(options: CheckpointerOptions): Checkpointer {
  const now = options.now ?? (() => new Date())
  const every = Math.max(1, options.everyRecords ?? 100)
  let appended = 0
  let timer: NodeJS.Timeout | undefined
  let last: Checkpoint | undefined
  // one write at a time, in order: a later checkpoint never lands before an earlier one
  let queue: Promise<unknown> = Promise.resolve()

  async function write(): Promise<Checkpoint | undefined> {
    last ??= latestOf(await readCheckpoints(options.file, options.key))
    const head = await readHead(options.db)
    if (head === undefined || (last?.seq === head.seq && last.headHash === head.hash)) return undefined
    const checkpoint = signCheckpoint(options.key, {
      seq: head.seq,
      headHash: head.hash,
      at: now().toISOString(),
    })
    await appendFile(options.file, `${JSON.stringify(checkpoint)}\n`, { mode: 0o600 })
    // the mode above only applies when the file is created
    await chmod(options.file, 0o600)
    last = checkpoint
    if (options.webhookUrl !== undefined) await post(options.webhookUrl, checkpoint, options.log)
    return checkpoint
  }

  function checkpoint(): Promise<Checkpoint | undefined> {
    const next = queue.then(write)
    queue = next.catch(() => undefined)
    return next
  }

  function background(): void {
    checkpoint().catch((error: unknown) =>
      options.log.warn({ err: describe(error) }, 'audit checkpoint could not be written'),
    )
  }

  return {
    start() {
      timer = setInterval(background, options.intervalMs ?? 60_000)
      timer.unref()
    },
    noteAppend() {
      appended += 1
      if (appended < every) return
      appended = 0
      // the append's transaction has not committed yet: look at the head a moment later
      setImmediate(background)
    },
    checkpoint,
    async stop() {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
      await checkpoint().catch((error: unknown) =>
        options.log.warn({ err: describe(error) }, 'the last audit checkpoint could not be written'),
      )
    },
  }
}

/** Reads a checkpoint file: the correctly signed checkpoints, and every line that is not one. */
export async function readCheckpoints(file: string, key: Uint8Array): Promise<CheckpointEvidence> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { checkpoints: [], problems: [] }
    throw error
  }
  const evidence: CheckpointEvidence = { checkpoints: [], problems: [] }
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return
    const checkpoint = parseCheckpoint(line)
    if (checkpoint === undefined) evidence.problems.push({ line: index + 1, reason: 'not a checkpoint' })
    else if (!checkpointSignatureValid(key, checkpoint))
      evidence.problems.push({
        line: index + 1,
        reason: `the signature of checkpoint #${checkpoint.seq} is wrong`,
      })
    else evidence.checkpoints.push(checkpoint)
  })
  return evidence
}

function latestOf(evidence: CheckpointEvidence): Checkpoint | undefined {
  return evidence.checkpoints.reduce<Checkpoint | undefined>(
    (best, c) => (best === undefined || c.seq > best.seq ? c : best),
    undefined,
  )
}

function parseCheckpoint(line: string): Checkpoint | undefined {
  try {
    const value = JSON.parse(line) as Partial<Checkpoint>
    if (
      typeof value.seq === 'number' &&
      typeof value.headHash === 'string' &&
      typeof value.at === 'string' &&
      typeof value.signature === 'string'
    ) {
      return { seq: value.seq, headHash: value.headHash, at: value.at, signature: value.signature }
    }
  } catch {
    // reported by the caller as not a checkpoint
  }
  return undefined
}

async function post(url: string, checkpoint: Checkpoint, log: CheckpointerOptions['log']): Promise<void> {
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(checkpoint),
      signal: AbortSignal.timeout(5_000),
    })
    if (!response.ok)
      log.warn({ target: originOf(url), status: response.status }, 'audit checkpoint webhook refused')
  } catch (error) {
    log.warn({ target: originOf(url), err: describe(error) }, 'audit checkpoint webhook failed')
  }
}

// a webhook URL may carry credentials in its user info or query: logs name only the origin
function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(invalid url)'
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
