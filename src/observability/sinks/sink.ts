import { createHash } from 'node:crypto'
import type { Alert, AlertEvent } from '../alerts.js'
import type { Incident } from '../incidents.js'
import {
  TICKET_SINK_TYPES,
  type TicketComment,
  type TicketSettings,
  type TicketSinkType,
} from '../tickets/ticket-system.js'
import { ticketTarget, type TicketSinkEntry } from '../tickets/ticket-targets.js'

/** Sinks that take one signed or formatted POST per notification (alerts and incidents). */
export const WEBHOOK_SINK_TYPES = ['webhook', 'slack', 'pagerduty'] as const
export type WebhookSinkType = (typeof WEBHOOK_SINK_TYPES)[number]
export const SINK_TYPES = [...WEBHOOK_SINK_TYPES, ...TICKET_SINK_TYPES] as const
export type SinkType = WebhookSinkType | TicketSinkType

export function isTicketSinkType(type: SinkType): type is TicketSinkType {
  return (TICKET_SINK_TYPES as readonly string[]).includes(type)
}

/** The two notification lists of the config: `notifications.alerts` and `notifications.incidents`. */
export const CHANNELS = ['alerts', 'incidents'] as const
export type Channel = (typeof CHANNELS)[number]

/** `commented`: a timeline event of an open incident, told only to ticketing sinks. */
export type IncidentEvent = 'opened' | 'commented' | 'closed'

/** What a sink is told: one change of one alert or incident, as it was at the change. */
export type Notification =
  | { channel: 'alerts'; event: AlertEvent; alert: Alert }
  | { channel: 'incidents'; event: IncidentEvent; incident: Incident; comment?: TicketComment }

/** One configured destination (an entry of `notifications.alerts` or `.incidents`). */
export interface SinkTarget {
  /** Stable across config versions while type and URL stay; safe to store and log. */
  id: string
  channel: Channel
  type: SinkType
  url: string
  /**
   * The name of the variable holding the HMAC secret (PagerDuty: the routing key; a ticketing
   * system: its token or password).
   */
  secretEnv?: string | undefined
  /** A ticketing sink's settings (repository, project, template file, …). */
  ticket?: TicketSettings | undefined
}

/** The HTTP request a sink sends for one notification. */
export interface SinkRequest {
  body: string
  headers: Record<string, string>
}

/**
 * Turns a notification into the request one kind of receiver expects. `secret` is the value
 * of the target's `secretEnv`, when it names one; a formatter must never put it anywhere but
 * where its receiver expects it (a signature, PagerDuty's routing key).
 */
export type SinkFormatter = (
  notification: Notification,
  secret: string | undefined,
  nowMs: number,
) => SinkRequest

/** The id of a sink: no URL in it, since a Slack webhook URL is itself a credential. */
export function sinkId(channel: Channel, type: SinkType, url: string): string {
  return `${channel}:${type}:${createHash('sha256').update(url).digest('hex').slice(0, 12)}`
}

/** The targets of a config's `notifications`, each with its id. */
export function sinkTargets(
  notifications: Record<Channel, readonly SinkEntry[]>,
  secretOf: (name: string) => string | undefined = () => undefined,
): SinkTarget[] {
  return CHANNELS.flatMap((channel) =>
    notifications[channel].flatMap((entry): SinkTarget[] => {
      if (isTicketEntry(entry)) {
        const target = ticketTarget(entry, secretOf)
        if (target === undefined) return []
        return [{ id: sinkId(channel, entry.type, target.named), channel, ...target }]
      }
      // a URL given by environment variable never reaches the store, not even in the config text
      const url = entry.url ?? (entry.urlEnv === undefined ? undefined : secretOf(entry.urlEnv))
      if (url === undefined) return []
      const named = entry.url ?? `env:${entry.urlEnv ?? ''}`
      return [
        {
          id: sinkId(channel, entry.type, named),
          channel,
          type: entry.type,
          url,
          secretEnv: entry.secretEnv,
        },
      ]
    }),
  )
}

/** One sink as keyrotor.yaml declares it. */
export type SinkEntry =
  | {
      type: WebhookSinkType
      url?: string | undefined
      urlEnv?: string | undefined
      secretEnv?: string | undefined
    }
  | TicketSinkEntry

/** The id of what a notification is about (its alert or incident). */
export function subjectOf(notification: Notification): string {
  return notification.channel === 'alerts' ? notification.alert.id : notification.incident.id
}

/** The alert members CONTRACT.md fixes, in its order, plus the change. */
export function alertJson(alert: Alert, event: AlertEvent): Record<string, unknown> {
  const { id, type, severity, key, runId, correlationId, message, count, state } = alert
  return { id, type, severity, key, runId, correlationId, message, count, state, event }
}

/** The incident as the API shows it, plus the change. */
export function incidentJson(incident: Incident, event: IncidentEvent): Record<string, unknown> {
  return { ...incident, event }
}

/** Which notifications a sink is sent: timeline comments go to ticketing sinks only. */
export function takes(target: Pick<SinkTarget, 'channel' | 'type'>, notification: Notification): boolean {
  if (target.channel !== notification.channel) return false
  return (
    notification.channel !== 'incidents' ||
    notification.event !== 'commented' ||
    isTicketSinkType(target.type)
  )
}

function isTicketEntry(entry: SinkEntry): entry is TicketSinkEntry {
  return isTicketSinkType(entry.type)
}
