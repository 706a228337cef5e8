import { open, rename, stat } from 'node:fs/promises'
import type { AuditSinkConfig } from '../../config/schema.js'
import { auditSinkId, recordLine, type AuditSink } from './audit-sink.js'

type FileConfig = Extract<AuditSinkConfig, { type: 'file' }>

/**
 * Appends JSON lines (mode 0600) and fsyncs before acknowledging. Before a write that would take
 * the file past `maxBytes` it rotates: PATH → PATH.1 → PATH.2 …, keeping `keep` old files, so
 * `cat PATH.N … PATH.1 PATH` is the stream in order.
 */
export function createFileAuditSink(config: FileConfig): AuditSink {
  return {
    id: auditSinkId(config),
    type: 'file',
    async send(records) {
      const text = records.map((r) => `${recordLine(r)}\n`).join('')
      const size = await stat(config.path).then(
        (s) => s.size,
        () => 0,
      )
      if (size > 0 && size + Buffer.byteLength(text) > config.maxBytes) await rotate(config)
      const handle = await open(config.path, 'a', 0o600)
      try {
        await handle.write(text)
        await handle.sync()
      } finally {
        await handle.close()
      }
    },
    async close() {},
  }
}

async function rotate(config: FileConfig): Promise<void> {
  for (let n = config.keep - 1; n >= 1; n -= 1) {
    await rename(`${config.path}.${n}`, `${config.path}.${n + 1}`).catch(() => undefined)
  }
  await rename(config.path, `${config.path}.1`)
}
