import { randomBytes } from 'node:crypto'
import { KeyrotorError } from '../errors.js'
import type { Kysely } from 'kysely'
import { assertClosable, type IncidentSeverity, type IncidentState } from '../domain/incidents.js'
import { byTimeThenId, filteredPage } from '../store/keyset-page.js'
import type { Page, PageQuery, TimeRange } from '../store/keyset-page.js'
import type { Database, IncidentRow } from '../store/tables.js'

export { INCIDENT_SEVERITIES, INCIDENT_STATES } from '../domain/incidents.js'
export type { IncidentSeverity, IncidentState } from '../domain/incidents.js'

/** Who is told when nobody says otherwise: the playbook's escalation for partial execution. */
export const DEFAULT_ESCALATION = ['security-lead', 'platform-lead'] as const

/** An incident as the API and the CLI show it (CONTRACT.md). */
export interface Incident {
  id: string
  state: IncidentState
  severity: IncidentSeverity
  title: string
  summary: string
  correlationId: string | null
  runId: string | null
  key: string | null
  escalatedTo: string[]
  openedAt: string
  closedAt: string | null
  closedBy: string | null
  rca: string | null
}

export interface OpenIncident {
  severity: IncidentSeverity
  title: string
  summary: string
  correlationId?: string | undefined
  runId?: string | undefined
  key?: string | undefined
  /** Default: DEFAULT_ESCALATION. */
  escalatedTo?: string[] | undefined
}

export type IncidentService = ReturnType<typeof createIncidentService>

/** What the engine needs to open an incident in the transaction that engages the halt. */
export type IncidentOpener = Pick<IncidentService, 'open'>

/** The notification outbox (sinks/delivery-outbox.ts), written through the incident's own executor. */
export interface IncidentOutbox {
  enqueue(
    executor: Kysely<Database>,
    notification: { channel: 'incidents'; event: 'opened' | 'closed'; incident: Incident },
  ): Promise<void>
}

/** Incidents newest first; `since`/`until` on when they were opened. */
export interface IncidentListQuery extends PageQuery, TimeRange {
  state?: IncidentState | undefined
  severity?: IncidentSeverity | undefined
  key?: string | undefined
}

const INCIDENTS_NEWEST_FIRST = byTimeThenId<IncidentRow, 'opened_at'>('incidents', 'opened_at', 'desc')

async function pageIncidents(db: Kysely<Database>, query: IncidentListQuery): Promise<Page<Incident>> {
  const equal = { state: query.state, severity: query.severity, key_id: query.key }
  const select = db.selectFrom('incidents').selectAll()
  const page = await filteredPage(select, { equal, time: 'opened_at' }, INCIDENTS_NEWEST_FIRST, query)
  return { ...page, items: page.items.map(toIncident) }
}

/** Incident records: opened by failures that touch security or availability, closed with an RCA. */
export function createIncidentService(deps: {
  db: Kysely<Database>
  now?: () => Date
  /** Sends openings and closings to `notifications.incidents`, in the same transaction. */
  outbox?: IncidentOutbox
}) {
  const { db } = deps
  const now = deps.now ?? (() => new Date())

  async function find(executor: Kysely<Database>, id: string): Promise<Incident> {
    const row = await executor.selectFrom('incidents').selectAll().where('id', '=', id).executeTakeFirst()
    if (row === undefined) throw new KeyrotorError('NOT_FOUND', `no incident ${id}`)
    return toIncident(row)
  }

  return {
    /** Opens an incident through `executor`, the transaction of what caused it. */
    async open(executor: Kysely<Database>, input: OpenIncident): Promise<Incident> {
      if (input.title.trim() === '') throw new KeyrotorError('BAD_REQUEST', 'an incident needs a title')
      const at = now()
      const escalatedTo = input.escalatedTo ?? [...DEFAULT_ESCALATION]
      const row: IncidentRow = {
        id: `inc_${at.getTime().toString(36)}${randomBytes(4).toString('hex')}`,
        state: 'open',
        severity: input.severity,
        title: input.title,
        summary: input.summary,
        correlation_id: input.correlationId ?? null,
        run_id: input.runId ?? null,
        key_id: input.key ?? null,
        escalated_to: escalatedTo.join(','),
        opened_at: at.toISOString(),
        closed_at: null,
        closed_by: null,
        rca: null,
      }
      await executor.insertInto('incidents').values(row).execute()
      const incident = toIncident(row)
      await deps.outbox?.enqueue(executor, { channel: 'incidents', event: 'opened', incident })
      return incident
    },

    /** Newest first. */
    async list(filter: { state?: IncidentState } = {}): Promise<Incident[]> {
      return (await pageIncidents(db, filter)).items
    },

    /** Newest first, one page (every incident when no limit is given). */
    page: (query: IncidentListQuery = {}): Promise<Page<Incident>> => pageIncidents(db, query),

    get: (id: string): Promise<Incident> => find(db, id),

    /** open → closed with its root cause analysis; CONFLICT when it is closed already. */
    async close(id: string, by: string, rca: string, executor: Kysely<Database> = db): Promise<Incident> {
      assertClosable(await find(executor, id), rca)
      const closed = await executor
        .updateTable('incidents')
        .set({ state: 'closed', closed_at: now().toISOString(), closed_by: by, rca })
        .where('id', '=', id)
        .where('state', '=', 'open')
        .executeTakeFirst()
      const incident = await find(executor, id)
      // another closer won the race between the check and the write
      if (Number(closed.numUpdatedRows) === 0) assertClosable(incident, rca)
      await deps.outbox?.enqueue(executor, { channel: 'incidents', event: 'closed', incident })
      return incident
    },
  }
}

/** The open incidents of a correlation id or a run (what a timeline event belongs to). */
export async function openIncidentsLinkedTo(
  executor: Kysely<Database>,
  link: { correlationId: string | null; runId: string | null },
): Promise<Incident[]> {
  const { correlationId, runId } = link
  if (correlationId === null && runId === null) return []
  const rows = await executor
    .selectFrom('incidents')
    .selectAll()
    .where('state', '=', 'open')
    .where((eb) =>
      eb.or([
        ...(correlationId === null ? [] : [eb('correlation_id', '=', correlationId)]),
        ...(runId === null ? [] : [eb('run_id', '=', runId)]),
      ]),
    )
    .orderBy('opened_at')
    .orderBy('id')
    .execute()
  return rows.map(toIncident)
}

function toIncident(row: IncidentRow): Incident {
  return {
    id: row.id,
    state: row.state,
    severity: row.severity,
    title: row.title,
    summary: row.summary,
    correlationId: row.correlation_id,
    runId: row.run_id,
    key: row.key_id,
    escalatedTo: row.escalated_to === '' ? [] : row.escalated_to.split(','),
    openedAt: row.opened_at,
    closedAt: row.closed_at,
    closedBy: row.closed_by,
    rca: row.rca,
  }
}
