import { z } from 'zod'
import { decodeJsonColumn, encodeJsonColumn } from './json-column.js'

// The JSON columns of `runs`, `run_events` and `verifications`, each decoded here once.

/** A run's post-rotation validation (`runs.validation`): each check and the verdict. */
const validationSchema = z.object({
  passed: z.boolean(),
  checks: z.array(z.object({ name: z.string(), passed: z.boolean(), detail: z.string() })),
})
/** What a journal entry saw (`run_events.data`): facts of the phase, shown as they are. */
const eventDataSchema = z.record(z.string(), z.unknown())
/** What a verify found wrong (`verifications.mismatches`), one line each. */
const mismatchesSchema = z.array(z.string())

export type RunValidation = z.output<typeof validationSchema>

/** `runs.validation`: null until the validate phase ran. */
export function decodeValidation(row: { id: string; validation: string | null }): RunValidation | null {
  return row.validation === null
    ? null
    : decodeJsonColumn(validationSchema, row.validation, { table: 'runs', column: 'validation', row: row.id })
}

export function encodeValidation(validation: RunValidation): string {
  return encodeJsonColumn(validationSchema, validation)
}

export function decodeEventData(row: { id: number; data: string | null }): Record<string, unknown> | null {
  return row.data === null
    ? null
    : decodeJsonColumn(eventDataSchema, row.data, {
        table: 'run_events',
        column: 'data',
        row: String(row.id),
      })
}

export function encodeEventData(data: Record<string, unknown> | null): string | null {
  return data === null ? null : encodeJsonColumn(eventDataSchema, data)
}

export function encodeMismatches(mismatches: readonly string[]): string {
  return encodeJsonColumn(mismatchesSchema, [...mismatches])
}
