import { signedHeaders } from '../../dependents/signature.js'
import type { Alert, AlertEvent } from '../alerts.js'
import type { Incident } from '../incidents.js'
import { NEXT_STEPS } from './next-steps.js'
import type { IncidentEvent, SinkFormatter } from './sink.js'

const ICON = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' } as const

/**
 * Slack's incoming-webhook format: `text` for notifications and clients without blocks, and
 * `blocks` with the facts an on-call engineer needs and what to do next. Slack ignores the
 * signature headers; they are sent when a secretEnv is set, for relays that check them.
 */
export const formatSlack: SinkFormatter = (notification, secret, nowMs) => {
  const message =
    notification.channel === 'alerts'
      ? alertMessage(notification.alert, notification.event)
      : incidentMessage(notification.incident, notification.event)
  const body = JSON.stringify(message)
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (secret !== undefined) Object.assign(headers, signedHeaders(secret, body, nowMs))
  return { body, headers }
}

function alertMessage(alert: Alert, event: AlertEvent) {
  const icon = alert.state === 'resolved' ? ':white_check_mark:' : ICON[alert.severity]
  const repeat = alert.count > 1 ? ` (×${alert.count})` : ''
  const title = `${icon} [${alert.severity.toUpperCase()}] ${alert.type} ${event}${repeat}: ${alert.key ?? 'all keys'}`
  return slackMessage(title, alert.message, nextStep(alert), {
    Severity: alert.severity,
    Key: alert.key ?? '-',
    Run: alert.runId ?? '-',
    'Correlation id': alert.correlationId ?? '-',
    State: `${alert.state} (${event})`,
    Alert: alert.id,
  })
}

function incidentMessage(incident: Incident, event: IncidentEvent) {
  const title = `:fire: Incident ${event}: ${incident.title}`
  const next =
    event === 'opened'
      ? `Follow the timeline: \`keyrotor timeline ${incident.correlationId ?? incident.id}\`; close with \`keyrotor incidents close ${incident.id} --rca FILE\`.`
      : `Closed by ${incident.closedBy ?? '-'}; the RCA is in \`keyrotor incidents show ${incident.id}\`.`
  return slackMessage(title, incident.summary, next, {
    Severity: incident.severity,
    Key: incident.key ?? '-',
    Run: incident.runId ?? '-',
    'Correlation id': incident.correlationId ?? '-',
    'Escalated to': incident.escalatedTo.join(', ') || '-',
    Incident: incident.id,
  })
}

/** The title as header (and, with the text, the notification line), the facts as fields, then what to do next. */
function slackMessage(title: string, text: string, next: string, facts: Record<string, string>) {
  return {
    text: `${title}: ${text}`,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'section', fields: Object.entries(facts).map(([label, value]) => field(label, value)) },
      { type: 'section', text: { type: 'mrkdwn', text: `*What to do next*\n${next}` } },
    ],
  }
}

function nextStep(alert: Alert): string {
  if (alert.state === 'resolved') return 'Nothing: the condition cleared.'
  return NEXT_STEPS[alert.type].replaceAll('RUN', alert.runId ?? 'RUN').replaceAll('KEY', alert.key ?? 'KEY')
}

function field(label: string, value: string) {
  return { type: 'mrkdwn', text: `*${label}*\n${value}` }
}
