import { z } from 'zod'
import { decodeJsonColumn, encodeJsonColumn } from './json-column.js'

/** An audit record's details (`audit_events.details`): the facts of the action, any JSON object. */
const detailsSchema = z.record(z.string(), z.unknown())

/**
 * `audit_events.details`. Unlike other columns, details that do not decode do not throw: the
 * record's hash covers the text, so `audit verify` reports the damage, and listing the log must
 * still work so that an auditor can look at it. They read `{ unparsable: text }`.
 */
export function decodeAuditDetails(text: string | null): Record<string, unknown> | null {
  if (text === null) return null
  try {
    return decodeJsonColumn(detailsSchema, text, {
      table: 'audit_events',
      column: 'details',
      row: 'a record',
    })
  } catch {
    return { unparsable: text }
  }
}

/** The text the chain hashes: JSON.stringify's, which an export's reader gives back byte for byte. */
export function encodeAuditDetails(details: Record<string, unknown>): string {
  return encodeJsonColumn(detailsSchema, details)
}
