import { z } from 'zod'
import { dependentSchema, policySchema, type KeyPolicy } from '../config/schema.js'
import { decodeJsonColumn, encodeJsonColumn } from './json-column.js'

// The JSON columns of `keys` and `dependents`, each with the config schema it was written from:
// readers get a KeyPolicy or a probe target, never text.

const probeSchema = dependentSchema.shape.probe
const notifySchema = dependentSchema.shape.notify.unwrap()
/** The versions a dependent last said it accepts. */
const acceptsSchema = z.array(z.number().int())

export type StoredProbe = z.output<typeof probeSchema>
export type StoredNotify = z.output<typeof notifySchema>

/** `keys.policy` of `keyId`. */
export function decodePolicy(text: string, keyId: string): KeyPolicy {
  return decodeJsonColumn(policySchema, text, { table: 'keys', column: 'policy', row: keyId })
}

export function encodePolicy(policy: KeyPolicy): string {
  return encodeJsonColumn(policySchema, policy)
}

/** `dependents.probe` of one dependent. */
export function decodeProbe(row: { key_id: string; name: string; probe: string }): StoredProbe {
  return decodeJsonColumn(probeSchema, row.probe, dependentPlace(row, 'probe'))
}

export function encodeProbe(probe: StoredProbe): string {
  return encodeJsonColumn(probeSchema, probe)
}

/** `dependents.notify` of one dependent: undefined for one that is not told. */
export function decodeNotify(row: {
  key_id: string
  name: string
  notify: string | null
}): StoredNotify | undefined {
  return row.notify === null
    ? undefined
    : decodeJsonColumn(notifySchema, row.notify, dependentPlace(row, 'notify'))
}

/** Only the name of the secret's variable is in it, never its value. */
export function encodeNotify(notify: StoredNotify | undefined): string | null {
  return notify === undefined ? null : encodeJsonColumn(notifySchema, notify)
}

/** `dependents.last_accepts`: null before the first answer. */
export function decodeAccepts(row: {
  key_id: string
  name: string
  last_accepts: string | null
}): number[] | null {
  return row.last_accepts === null
    ? null
    : decodeJsonColumn(acceptsSchema, row.last_accepts, dependentPlace(row, 'last_accepts'))
}

export function encodeAccepts(accepts: readonly number[]): string {
  return encodeJsonColumn(acceptsSchema, [...accepts])
}

function dependentPlace(row: { key_id: string; name: string }, column: string) {
  return { table: 'dependents', column, row: `${row.key_id}/${row.name}` }
}
