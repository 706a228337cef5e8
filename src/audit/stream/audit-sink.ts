import { createHash } from 'node:crypto'
import type { AuditSinkConfig } from '../../config/schema.js'
import type { AuditEvent } from '../audit-log.js'

export type AuditSinkType = AuditSinkConfig['type']

/** One destination of the audit stream (an entry of `notifications.audit`). */
export interface AuditSink {
  /** Stable while the destination stays; safe to store and log (no URL, no secret). */
  readonly id: string
  readonly type: AuditSinkType
  /**
   * Delivers `records` (consecutive, in seq order) and resolves once the receiver has them;
   * rejects otherwise, and then the same records are sent again later (at least once).
   */
  send(records: readonly AuditEvent[]): Promise<void>
  close(): Promise<void>
}

export interface AuditSinkContext {
  secretOf: (name: string) => string | undefined
  /** How long one delivery may take before it counts as failed. */
  timeoutMs: number
}

/** The id of a sink from what it points at: the address, URL or path is hashed, never shown. */
export function auditSinkId(config: AuditSinkConfig): string {
  const where =
    config.type === 'syslog'
      ? `${config.tls ? 'tls' : 'tcp'}://${config.address}`
      : config.type === 'http'
        ? config.url
        : config.path
  return `audit:${config.type}:${createHash('sha256').update(where).digest('hex').slice(0, 12)}`
}

/** A streamed record is the exported record: one JSON object a line, carrying its chain hash. */
export function recordLine(record: AuditEvent): string {
  return JSON.stringify(record)
}
