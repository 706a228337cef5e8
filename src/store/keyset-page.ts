import { sql, type SelectQueryBuilder, type SqlBool } from 'kysely'
import { KeyrotorError } from '../errors.js'

/** The largest page a list route answers (the audit export allows more: see audit-log.ts). */
export const MAX_PAGE_SIZE = 1000

export interface PageQuery {
  /** At most this many items; without it the list is answered whole, as before paging existed. */
  limit?: number | undefined
  /** The `nextCursor` of the previous page: the next page starts after its last item. */
  cursor?: string | undefined
}

export interface Page<T> {
  items: T[]
  /** Where the next page starts; undefined on the last page and when no limit was asked. */
  nextCursor: string | undefined
}

type PositionValue = string | number

/**
 * How one list is ordered: by `columns`, the last of which is unique (an id), all in one
 * direction. A page starts strictly after the last row of the one before it (keyset paging):
 * rows inserted meanwhile land before the cursor (newest-first lists) or after everything read
 * so far (oldest-first lists), so a walk never repeats or skips a row that existed at its start
 * (OFFSET would shift by every insert). Each list has an index on `columns` (migration 010).
 */
export interface KeysetOrder<Row> {
  /** Names the list inside its cursors, so a cursor of another list is refused, not misread. */
  list: string
  columns: readonly string[]
  direction: 'asc' | 'desc'
  /** The values of `columns` in a row. */
  positionOf(row: Row): readonly PositionValue[]
}

/** One page of `query` (which must not order itself) in the order given. */
export async function keysetPage<DB, TB extends keyof DB, Row>(
  query: SelectQueryBuilder<DB, TB, Row>,
  // the rows' type comes from the query; an order may read fewer columns than it selects
  order: KeysetOrder<NoInfer<Row>>,
  page: PageQuery,
): Promise<Page<Row>> {
  let ordered = query
  for (const column of order.columns) ordered = ordered.orderBy(sql.ref(column), order.direction)
  if (page.cursor !== undefined) {
    const after = decodeCursor(order, page.cursor)
    const columns = sql.join(order.columns.map((column) => sql.ref(column)))
    const values = sql.join(after.map((value) => sql.val(value)))
    // a row-value comparison: both dialects read it as "after this position" and use the index
    const comparison = order.direction === 'asc' ? sql.raw('>') : sql.raw('<')
    ordered = ordered.where(sql<SqlBool>`(${columns}) ${comparison} (${values})`)
  }
  if (page.limit === undefined) return { items: await ordered.execute(), nextCursor: undefined }
  // one row more than asked tells whether a next page exists without a count
  const rows = await ordered.limit(page.limit + 1).execute()
  const items = rows.slice(0, page.limit)
  const last = items.at(-1)
  const nextCursor =
    rows.length > page.limit && last !== undefined ? encodeCursor(order, order.positionOf(last)) : undefined
  return { items, nextCursor }
}

/** Opaque to clients: base64url of the list's name and the last row's position, as JSON. */
export function encodeCursor(
  order: Pick<KeysetOrder<unknown>, 'list'>,
  position: readonly PositionValue[],
): string {
  return Buffer.from(JSON.stringify([order.list, ...position])).toString('base64url')
}

function decodeCursor(order: KeysetOrder<unknown>, cursor: string): PositionValue[] {
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    decoded = undefined
  }
  const fits =
    Array.isArray(decoded) &&
    decoded.length === order.columns.length + 1 &&
    decoded[0] === order.list &&
    decoded.slice(1).every((value) => typeof value === 'string' || Number.isSafeInteger(value))
  if (!fits) {
    throw badParameter('cursor', `is not a cursor of ${order.list} (pass back X-Next-Cursor unchanged)`)
  }
  return (decoded as PositionValue[]).slice(1)
}

/**
 * A `since`/`until` bound as the store keeps times (toISOString text, so comparing the text
 * compares the times); BAD_REQUEST names the parameter when it is not a time.
 */
export function timeBound(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const time = new Date(value)
  if (Number.isNaN(time.getTime()) || !dayExists(value)) {
    throw badParameter(name, `"${value}" is not a time (use ISO 8601)`)
  }
  return time.toISOString()
}

// Date rolls 2026-02-31 over into March: a day that does not exist is a mistake, not a time
function dayExists(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value)
  if (match === null) return true
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number]
  const date = new Date(Date.UTC(year, month - 1, day))
  return date.getUTCMonth() === month - 1 && date.getUTCDate() === day
}

/** A query parameter the schema let through but the store cannot use: 400 naming it. */
export function badParameter(name: string, message: string): KeyrotorError {
  return new KeyrotorError('BAD_REQUEST', `querystring ${name} ${message}`, {
    details: { errors: [{ in: 'querystring', path: name, message }] },
  })
}

/** A list's time filter: `since` inclusive, `until` exclusive, each ISO 8601. */
export interface TimeRange {
  since?: string | undefined
  until?: string | undefined
}

/** Keeps the rows whose `column` (stored ISO text) lies in `range`; a value that is not a time is a 400. */
export function withinTime<DB, TB extends keyof DB, Row>(
  query: SelectQueryBuilder<DB, TB, Row>,
  column: string,
  range: TimeRange,
): SelectQueryBuilder<DB, TB, Row> {
  const since = timeBound('since', range.since)
  const until = timeBound('until', range.until)
  let bounded = query
  if (since !== undefined) bounded = bounded.where(sql<SqlBool>`${sql.ref(column)} >= ${since}`)
  if (until !== undefined) bounded = bounded.where(sql<SqlBool>`${sql.ref(column)} < ${until}`)
  return bounded
}

/**
 * The order most lists use: by a time column (stored ISO text), ties broken by the unique `id`.
 * Each such list has an index on both (migration 010).
 */
export function byTimeThenId<Row extends { id: string } & Record<Column, string>, Column extends string>(
  list: string,
  column: Column,
  direction: 'asc' | 'desc',
): KeysetOrder<Row> {
  return { list, columns: [column, 'id'], direction, positionOf: (row) => [row[column], row.id] }
}

/** A list's filters: the columns that must equal a value (an undefined value filters nothing) and its time column. */
export interface ListFilter<Row> {
  equal: { [Column in keyof Row & string]?: Row[Column] | undefined }
  time: keyof Row & string
}

/** One page of the rows of `query` that pass `filter`, the query's `since`/`until` on its time column. */
export async function filteredPage<DB, TB extends keyof DB, Row>(
  query: SelectQueryBuilder<DB, TB, Row>,
  filter: ListFilter<NoInfer<Row>>,
  order: KeysetOrder<NoInfer<Row>>,
  page: PageQuery & TimeRange,
): Promise<Page<Row>> {
  let filtered = query
  for (const [column, value] of Object.entries(filter.equal)) {
    if (value !== undefined) filtered = filtered.where(sql<SqlBool>`${sql.ref(column)} = ${value}`)
  }
  return keysetPage(withinTime(filtered, filter.time, page), order, page)
}
