import type { AlertEvent } from '../alerts.js'
import { alertDedupKey } from '../alerts.js'
import { NEXT_STEPS } from './next-steps.js'
import { alertJson, incidentJson, type SinkFormatter } from './sink.js'

const ACTION: Record<AlertEvent, 'trigger' | 'acknowledge' | 'resolve'> = {
  raised: 'trigger',
  repeated: 'trigger',
  acknowledged: 'acknowledge',
  resolved: 'resolve',
}

/** PagerDuty caps dedup_key and summary at these lengths. */
const MAX_DEDUP = 255
const MAX_SUMMARY = 1024

/**
 * PagerDuty Events API v2 (`POST https://events.pagerduty.com/v2/enqueue`). The routing key is
 * the target's secret; the dedup key is the alert's (type, key, run), so a repeat updates the
 * same PagerDuty incident and an acknowledgement or resolution reaches it.
 */
export const formatPagerDuty: SinkFormatter = (notification, secret) => {
  const routing_key = secret ?? ''
  if (notification.channel === 'alerts') {
    const { alert, event } = notification
    return request({
      routing_key,
      event_action: ACTION[event],
      dedup_key: alertDedupKey(alert).slice(0, MAX_DEDUP),
      payload: {
        summary: `[keyrotor] ${alert.type} on ${alert.key ?? 'all keys'}: ${alert.message}`.slice(
          0,
          MAX_SUMMARY,
        ),
        source: 'keyrotor',
        severity: alert.severity,
        component: alert.key ?? undefined,
        group: alert.type,
        custom_details: { ...alertJson(alert, event), nextStep: NEXT_STEPS[alert.type] },
      },
    })
  }
  const { incident, event } = notification
  return request({
    routing_key,
    event_action: event === 'closed' ? 'resolve' : 'trigger',
    dedup_key: `keyrotor/incident/${incident.id}`,
    payload: {
      summary: `[keyrotor] incident: ${incident.title}`.slice(0, MAX_SUMMARY),
      source: 'keyrotor',
      severity: incident.severity === 'critical' || incident.severity === 'high' ? 'critical' : 'warning',
      component: incident.key ?? undefined,
      group: 'incident',
      custom_details: incidentJson(incident, event),
    },
  })
}

function request(event: Record<string, unknown>) {
  return { body: JSON.stringify(event), headers: { 'content-type': 'application/json' } }
}
