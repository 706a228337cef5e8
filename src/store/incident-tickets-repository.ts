import type { Executor } from './database.js'
import type { IncidentTicketRow } from './tables.js'

/** The ticket one ticketing sink opened for one incident. */
export interface IncidentTicket {
  incidentId: string
  sink: string
  sinkType: string
  externalId: string
  externalUrl: string | null
  createdAt: string
}

export async function findIncidentTicket(
  db: Executor,
  incidentId: string,
  sink: string,
): Promise<IncidentTicket | undefined> {
  const row = await db
    .selectFrom('incident_tickets')
    .selectAll()
    .where('incident_id', '=', incidentId)
    .where('sink', '=', sink)
    .executeTakeFirst()
  return row === undefined ? undefined : toTicket(row)
}

/**
 * Remembers a ticket; a second save for the same incident and sink (two instances racing on one
 * row cannot happen under the outbox's claim, but a replay can) keeps the first.
 */
export async function saveIncidentTicket(db: Executor, ticket: IncidentTicket): Promise<void> {
  await db
    .insertInto('incident_tickets')
    .values({
      incident_id: ticket.incidentId,
      sink: ticket.sink,
      sink_type: ticket.sinkType,
      external_id: ticket.externalId,
      external_url: ticket.externalUrl,
      created_at: ticket.createdAt,
    })
    .onConflict((oc) => oc.columns(['incident_id', 'sink']).doNothing())
    .execute()
}

/** Every ticket opened for an incident, oldest first (the incident's view lists them). */
export async function listIncidentTickets(db: Executor, incidentId: string): Promise<IncidentTicket[]> {
  const rows = await db
    .selectFrom('incident_tickets')
    .selectAll()
    .where('incident_id', '=', incidentId)
    .orderBy('created_at')
    .orderBy('sink')
    .execute()
  return rows.map(toTicket)
}

function toTicket(row: IncidentTicketRow): IncidentTicket {
  return {
    incidentId: row.incident_id,
    sink: row.sink,
    sinkType: row.sink_type,
    externalId: row.external_id,
    externalUrl: row.external_url,
    createdAt: row.created_at,
  }
}
