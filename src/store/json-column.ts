import type { z } from 'zod'
import { KeyrotorError } from '../errors.js'

/** Which stored value a decode is about: named in the error, never the value itself. */
export interface ColumnPlace {
  table: string
  column: string
  /** The row's id (a key id, an approval id, `key/dependent`, …). */
  row: string
}

/**
 * A JSON column's text as the typed value its schema describes. keyrotor wrote the text through
 * `encodeJsonColumn`, so text that does not parse or does not fit is store damage: it throws
 * INTERNAL naming table, column and row (a 500, and the `internal` failure class of a run, as an
 * unparsable value always did), without the value, which may be large or sensitive.
 */
export function decodeJsonColumn<S extends z.ZodType>(
  schema: S,
  text: string,
  place: ColumnPlace,
): z.output<S> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    // not the parser's error as the cause: its message quotes the text, which may be material
    throw damaged(place, 'it is not JSON')
  }
  const result = schema.safeParse(value)
  if (!result.success) {
    const issue = result.error.issues[0]
    const path = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`
    throw damaged(place, `it does not fit its schema${path}: ${issue?.message ?? 'invalid'}`, result.error)
  }
  return result.data
}

/** The text a JSON column stores for `value`: the one way every writer encodes. */
export function encodeJsonColumn<S extends z.ZodType>(_schema: S, value: z.output<S>): string {
  return JSON.stringify(value)
}

function damaged(place: ColumnPlace, why: string, cause?: unknown): KeyrotorError {
  return new KeyrotorError(
    'INTERNAL',
    `store damage: ${place.table}.${place.column} of ${place.row} does not decode (${why})`,
    {
      details: { table: place.table, column: place.column, row: place.row },
      ...(cause === undefined ? {} : { cause }),
    },
  )
}
