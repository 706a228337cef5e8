import type { Kysely } from 'kysely'
import type { Database } from '../store/tables.js'
import type { AlertOutbox } from './alerts.js'
import { openIncidentsLinkedTo } from './incidents.js'
import type { Notification } from './sinks/sink.js'

/** The outbox as the commenter uses it. */
export interface CommentingOutbox {
  enqueue(executor: Kysely<Database>, notification: Notification): Promise<void>
  /** False while no ticketing sink is configured: then no incident is looked up at all. */
  takesIncidentComments(): boolean
}

/**
 * The alert outbox, plus a comment on each open incident an alert change belongs to (same
 * correlation id or run): the incident's timeline as its tickets see it — an alert
 * acknowledged, the halt released, a repeat of the failure. Written in the same transaction
 * as the alert change, so a comment exists exactly when the change does, and queued behind the
 * incident's opening for each sink, so it reaches the ticket the opening made.
 */
export function withIncidentComments(outbox: CommentingOutbox): AlertOutbox {
  return {
    async enqueue(executor, notification) {
      await outbox.enqueue(executor, notification)
      if (!outbox.takesIncidentComments()) return
      const { alert, event } = notification
      const incidents = await openIncidentsLinkedTo(executor, alert)
      const repeat = alert.count > 1 ? ` (×${alert.count})` : ''
      const text = `Alert ${alert.type} ${event}${repeat} (${alert.severity}${alert.key === null ? '' : `, key ${alert.key}`}): ${alert.message}`
      for (const incident of incidents) {
        await outbox.enqueue(executor, {
          channel: 'incidents',
          event: 'commented',
          incident,
          comment: { at: alert.updatedAt, text },
        })
      }
    },
  }
}
