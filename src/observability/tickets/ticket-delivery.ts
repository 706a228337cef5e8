import type { Kysely } from 'kysely'
import { findIncidentTicket, saveIncidentTicket } from '../../store/incident-tickets-repository.js'
import type { Database } from '../../store/tables.js'
import type { Incident } from '../incidents.js'
import { githubTickets } from './github-tickets.js'
import { jiraTickets } from './jira-tickets.js'
import { servicenowTickets } from './servicenow-tickets.js'
import { templateTickets } from './template-tickets.js'
import { createTicketHttp, TicketDeliveryError } from './ticket-http.js'
import type {
  TicketComment,
  TicketRef,
  TicketSettings,
  TicketSinkType,
  TicketSystem,
} from './ticket-system.js'

/** Every ticketing sink type has its system: a new type without one does not compile. */
const TICKET_SYSTEMS: { [T in TicketSinkType]: TicketSystem<Extract<TicketSettings, { type: T }>> } = {
  github: githubTickets,
  jira: jiraTickets,
  servicenow: servicenowTickets,
  template: templateTickets,
}

/** One incident change for one ticketing sink, as the outbox row holds it. */
export interface TicketDelivery {
  sink: string
  url: string
  settings: TicketSettings
  secret: string | undefined
  event: 'opened' | 'commented' | 'closed'
  incident: Incident
  comment?: TicketComment | undefined
  /** An earlier attempt of this delivery failed: it may have opened a ticket whose answer was lost. */
  retry: boolean
}

export interface TicketDeliveryOptions {
  db: Kysely<Database>
  timeoutMs: number
  signal: AbortSignal
  now: () => Date
  scrub: (text: string) => string
}

/**
 * Delivers one incident change to a ticketing system. The ticket id is remembered per incident
 * and sink as soon as the system answers the opening, so a retry of the opening (or of a later
 * step) never opens a second ticket. A change that finds no ticket yet (the sink was added
 * after the incident opened, or its opening failed) opens one first. Throws TicketDeliveryError.
 */
export async function deliverTicket(delivery: TicketDelivery, options: TicketDeliveryOptions): Promise<void> {
  const { settings } = delivery
  // each branch narrows the settings for its own system
  switch (settings.type) {
    case 'github':
      return run(TICKET_SYSTEMS.github, settings, delivery, options)
    case 'jira':
      return run(TICKET_SYSTEMS.jira, settings, delivery, options)
    case 'servicenow':
      return run(TICKET_SYSTEMS.servicenow, settings, delivery, options)
    case 'template':
      return run(TICKET_SYSTEMS.template, settings, delivery, options)
  }
}

async function run<S extends TicketSettings>(
  system: TicketSystem<S>,
  settings: S,
  delivery: TicketDelivery,
  options: TicketDeliveryOptions,
): Promise<void> {
  const http = createTicketHttp({
    headers: system.headers(settings, delivery.secret),
    timeoutMs: options.timeoutMs,
    signal: options.signal,
    scrub: options.scrub,
  })
  const ctx = { url: delivery.url, settings, http, secret: delivery.secret }
  const { incident } = delivery
  const known = await findIncidentTicket(options.db, incident.id, delivery.sink)
  let ticket: TicketRef
  if (known !== undefined) ticket = { id: known.externalId, url: known.externalUrl }
  else {
    // a retry asks a system that can be searched reliably for the ticket an attempt whose answer
    // was lost may have opened, before opening one
    const found = delivery.retry ? await system.find?.(incident, ctx) : undefined
    ticket = found ?? (await system.open(incident, ctx))
    await saveIncidentTicket(options.db, {
      incidentId: incident.id,
      sink: delivery.sink,
      sinkType: settings.type,
      externalId: ticket.id,
      externalUrl: ticket.url,
      createdAt: options.now().toISOString(),
    })
    if (delivery.event === 'opened') return
  }
  if (delivery.event === 'commented') {
    if (delivery.comment === undefined) throw new TicketDeliveryError('comment: the row has no comment', true)
    await system.comment(ticket, incident, delivery.comment, ctx)
  } else if (delivery.event === 'closed') {
    await system.resolve(ticket, incident, ctx)
  }
}
