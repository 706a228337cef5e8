import { randomUUID } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import { KeyrotorError } from '../errors.js'
import { byTimeThenId, filteredPage } from '../store/keyset-page.js'
import type { Page, PageQuery, TimeRange } from '../store/keyset-page.js'
import type { AlertRow, Database } from '../store/tables.js'
import { acknowledges, type AlertSeverity, type AlertState, type AlertType } from '../domain/alerts.js'

export { ALERT_SEVERITIES, ALERT_STATES, ALERT_TYPES } from '../domain/alerts.js'
export type { AlertSeverity, AlertState, AlertType } from '../domain/alerts.js'

/** An alert as the API, the CLI and the sinks show it (CONTRACT.md). */
export interface Alert {
  id: string
  type: AlertType
  severity: AlertSeverity
  key: string | null
  runId: string | null
  correlationId: string | null
  message: string
  count: number
  state: AlertState
  createdAt: string
  updatedAt: string
}

export interface RaiseAlert {
  type: AlertType
  severity: AlertSeverity
  key?: string | undefined
  runId?: string | undefined
  correlationId?: string | undefined
  message: string
}

/** What happened to an alert, as a sink is told. */
export type AlertEvent = 'raised' | 'repeated' | 'acknowledged' | 'resolved'

/** The notification outbox (sinks/delivery-outbox.ts), written through the alert's own executor. */
export interface AlertOutbox {
  enqueue(
    executor: Kysely<Database>,
    notification: { channel: 'alerts'; event: AlertEvent; alert: Alert },
  ): Promise<void>
}

export interface AlertServiceDeps {
  db: Kysely<Database>
  now?: () => Date
  /** Told the number of open alerts after every change (the metrics gauge listens). */
  onChange?: (openCount: number) => void
  /** Told each alert raised or repeated (the metrics counter listens). */
  onRaised?: (type: AlertType) => void
  /**
   * Deliveries to the configured sinks, recorded in the same transaction as the change: they
   * exist exactly when the change does, and survive a restart until delivered.
   */
  outbox?: AlertOutbox
}

export type AlertService = ReturnType<typeof createAlertService>

/** Alerts by latest activity; `since`/`until` on their activity (raised, repeated, acknowledged, resolved). */
export interface AlertListQuery extends PageQuery, TimeRange {
  state?: AlertState | undefined
  type?: AlertType | undefined
  key?: string | undefined
}

const ALERTS_BY_ACTIVITY = byTimeThenId<AlertRow, 'updated_at'>('alerts', 'updated_at', 'desc')

/**
 * A repeat or an acknowledgement moves an alert to the front, so one that changes while a client
 * pages can be passed over; `since` on the activity time finds it again.
 */
async function pageAlerts(db: Kysely<Database>, query: AlertListQuery): Promise<Page<Alert>> {
  const equal = { state: query.state, type: query.type, key_id: query.key }
  const select = db.selectFrom('alerts').selectAll()
  const page = await filteredPage(select, { equal, time: 'updated_at' }, ALERTS_BY_ACTIVITY, query)
  return { ...page, items: page.items.map(toAlert) }
}

/**
 * Alerts deduplicated by (type, key, run) through the unique `dedup_key` column. A repeat of an
 * open or acknowledged alert raises its `count` and keeps its state: whoever acknowledged it
 * already knows. Resolving an alert frees its dedup key, so the same trouble after a resolution
 * is raised anew as a fresh alert rather than silently counted on a closed one.
 */
export function createAlertService(deps: AlertServiceDeps) {
  const { db } = deps
  const now = () => (deps.now ?? (() => new Date()))().toISOString()

  async function changed(executor: Kysely<Database>, alerts: Alert[], event: AlertEvent): Promise<void> {
    if (deps.onChange !== undefined) deps.onChange(await openCount(executor))
    for (const alert of alerts) {
      await deps.outbox?.enqueue(executor, { channel: 'alerts', event, alert })
    }
  }

  async function openCount(executor: Kysely<Database> = db): Promise<number> {
    const row = await executor
      .selectFrom('alerts')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('state', '=', 'open')
      .executeTakeFirstOrThrow()
    return Number(row.n)
  }

  return {
    /** Raises an alert, or counts a repeat of an unresolved one; atomic under concurrency. */
    async raise(executor: Kysely<Database>, input: RaiseAlert): Promise<Alert> {
      const at = now()
      const row = await executor
        .insertInto('alerts')
        .values({
          id: randomUUID(),
          type: input.type,
          severity: input.severity,
          key_id: input.key ?? null,
          run_id: input.runId ?? null,
          correlation_id: input.correlationId ?? null,
          message: input.message,
          count: 1,
          state: 'open',
          dedup_key: dedupKey(input),
          created_at: at,
          updated_at: at,
        })
        // one statement, so concurrent raises serialize on the unique index in both dialects
        .onConflict((oc) =>
          oc.column('dedup_key').doUpdateSet((eb) => ({
            count: sql<number>`${sql.ref('alerts.count')} + 1`,
            message: eb.ref('excluded.message'),
            updated_at: eb.ref('excluded.updated_at'),
          })),
        )
        .returningAll()
        .executeTakeFirstOrThrow()
      const alert = toAlert(row)
      await changed(executor, [alert], alert.count === 1 ? 'raised' : 'repeated')
      deps.onRaised?.(alert.type)
      return alert
    },

    /** open → acknowledged; acknowledging twice is a no-op, a resolved alert is refused. */
    async ack(id: string, by: string, executor: Kysely<Database> = db): Promise<Alert> {
      const updated = await executor
        .updateTable('alerts')
        .set({ state: 'acknowledged', updated_at: now() })
        .where('id', '=', id)
        .where('state', '=', 'open')
        .returningAll()
        .executeTakeFirst()
      if (updated !== undefined) {
        const alert = toAlert(updated)
        await changed(executor, [alert], 'acknowledged')
        return alert
      }
      const row = await executor.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst()
      if (row === undefined) throw new KeyrotorError('NOT_FOUND', `no alert ${id}`)
      // the write above took no open alert: acknowledged already (a no-op) or resolved (refused)
      acknowledges(row.state, id, by)
      return toAlert(row)
    },

    /** Resolves every unresolved alert matching all given filters (at least one); returns them. */
    async resolve(
      filter: { type?: AlertType; types?: readonly AlertType[]; key?: string; runId?: string },
      executor: Kysely<Database> = db,
    ): Promise<Alert[]> {
      if (filter.type === undefined && filter.key === undefined && filter.runId === undefined) {
        throw new KeyrotorError('BAD_REQUEST', 'resolving alerts needs a type, a key or a run')
      }
      let query = executor
        .updateTable('alerts')
        // the id suffix frees the dedup key for the next occurrence (see the factory's comment)
        .set({ state: 'resolved', updated_at: now(), dedup_key: sql<string>`dedup_key || '#' || id` })
        .where('state', '!=', 'resolved')
      if (filter.type !== undefined) query = query.where('type', '=', filter.type)
      if (filter.types !== undefined) query = query.where('type', 'in', filter.types)
      if (filter.key !== undefined) query = query.where('key_id', '=', filter.key)
      if (filter.runId !== undefined) query = query.where('run_id', '=', filter.runId)
      const alerts = (await query.returningAll().execute()).map(toAlert)
      if (alerts.length > 0) await changed(executor, alerts, 'resolved')
      return alerts
    },

    /** Newest activity first. */
    async list(filter: { state?: AlertState } = {}): Promise<Alert[]> {
      return (await pageAlerts(db, filter)).items
    },

    /** Newest activity first, one page (every alert when no limit is given): see pageAlerts. */
    page: (query: AlertListQuery = {}): Promise<Page<Alert>> => pageAlerts(db, query),

    /** Alerts in state open: raised and not yet acknowledged. */
    openCount: () => openCount(),
  }
}

/** JSON of the triple: unambiguous whatever characters a key id holds. */
function dedupKey(input: RaiseAlert): string {
  return JSON.stringify([input.type, input.key ?? null, input.runId ?? null])
}

/** The (type, key, run) an alert is deduplicated by, as sinks use it (PagerDuty's dedup_key). */
export function alertDedupKey(alert: Pick<Alert, 'type' | 'key' | 'runId'>): string {
  return dedupKey({
    type: alert.type,
    key: alert.key ?? undefined,
    runId: alert.runId ?? undefined,
    severity: 'info',
    message: '',
  })
}

function toAlert(row: AlertRow): Alert {
  return {
    id: row.id,
    type: row.type,
    severity: row.severity,
    key: row.key_id,
    runId: row.run_id,
    correlationId: row.correlation_id,
    message: row.message,
    count: Number(row.count),
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}
