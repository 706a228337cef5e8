import type { Incident } from '../incidents.js'
import type { TicketHttp } from './ticket-http.js'

/** What a ticketing sink's config says, beside its URL and credential (never a secret). */
export type TicketSettings =
  | { type: 'github'; repo: string; labels: readonly string[] }
  | {
      type: 'jira'
      project: string
      issueType: string
      user: string
      labels: readonly string[]
      /** The transition to take on close; default: the first one into the "done" status category. */
      doneTransition?: string | undefined
    }
  | {
      type: 'servicenow'
      user: string
      assignmentGroup?: string | undefined
      closeCode: string
      closeState: string
    }
  | {
      type: 'template'
      templateFile: string
      /** Member of the opening's JSON answer that holds the ticket id (dotted path). */
      idField?: string | undefined
      /** Where comments and the close go; may contain {{ticket.id}}. Default: the sink's url. */
      updateUrl?: string | undefined
      updateMethod: 'POST' | 'PUT' | 'PATCH'
      auth: 'bearer' | 'basic'
      user?: string | undefined
    }

export type TicketSinkType = TicketSettings['type']
export const TICKET_SINK_TYPES = [
  'github',
  'jira',
  'servicenow',
  'template',
] as const satisfies readonly TicketSinkType[]

/** The ticket a sink opened, as remembered per incident (incident_tickets). */
export interface TicketRef {
  id: string
  url: string | null
}

/** One line of the incident's timeline, told to the ticket as a comment. */
export interface TicketComment {
  at: string
  text: string
}

/** Everything one delivery needs: the sink's base URL and settings, and its authenticated client. */
export interface TicketContext<S extends TicketSettings = TicketSettings> {
  url: string
  settings: S
  http: TicketHttp
  /** The credential (token, password) for systems that put it in the request themselves. */
  secret: string | undefined
}

/**
 * One ticketing system: how it opens a ticket for an incident, comments on it, and resolves it
 * with the RCA, each with the request bodies the vendor documents. Every method throws
 * TicketDeliveryError (permanent or not) and nothing else.
 */
export interface TicketSystem<S extends TicketSettings = TicketSettings> {
  /** Headers that authenticate every request (never logged, never stored). */
  headers(settings: S, secret: string | undefined): Record<string, string>
  open(incident: Incident, ctx: TicketContext<S>): Promise<TicketRef>
  /**
   * The ticket already opened for an incident, for systems whose search is immediate and exact
   * (ServiceNow's table query on correlation_id); asked only when retrying an opening.
   */
  find?(incident: Incident, ctx: TicketContext<S>): Promise<TicketRef | undefined>
  comment(ticket: TicketRef, incident: Incident, comment: TicketComment, ctx: TicketContext<S>): Promise<void>
  resolve(ticket: TicketRef, incident: Incident, ctx: TicketContext<S>): Promise<void>
}

/** A ticket's title: short, with the severity in front for triage. */
export function ticketTitle(incident: Incident): string {
  return `[keyrotor ${incident.severity}] ${incident.title}`.slice(0, 240)
}

/** The facts of an incident as lines of text (Markdown-friendly, also readable as plain text). */
export function incidentLines(incident: Incident): string[] {
  return [
    incident.summary,
    '',
    `Incident: ${incident.id}`,
    `Severity: ${incident.severity}`,
    `Key: ${incident.key ?? '-'}`,
    `Run: ${incident.runId ?? '-'}`,
    `Correlation id: ${incident.correlationId ?? '-'}`,
    `Escalated to: ${incident.escalatedTo.join(', ') || '-'}`,
    `Opened at: ${incident.openedAt}`,
    '',
    `Timeline: keyrotor timeline ${incident.correlationId ?? incident.id}`,
    `Close with: keyrotor incidents close ${incident.id} --rca FILE`,
  ]
}

export function commentText(comment: TicketComment): string {
  return `${comment.at}: ${comment.text}`
}

export function rcaText(incident: Incident): string {
  return [
    `Resolved by ${incident.closedBy ?? '-'} at ${incident.closedAt ?? '-'}.`,
    '',
    'Root cause analysis:',
    '',
    incident.rca ?? '-',
  ].join('\n')
}
