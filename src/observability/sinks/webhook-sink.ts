import { signedHeaders } from '../../dependents/signature.js'
import { alertJson, incidentJson, type SinkFormatter } from './sink.js'

/**
 * The generic signed webhook: the alert JSON of CONTRACT.md (or the incident JSON) with the
 * change as `event`, signed like dependent notices so a receiver checks it with the same code
 * (`verifySignature` of the dependent SDK). Without a secretEnv the request goes unsigned.
 */
export const formatWebhook: SinkFormatter = (notification, secret, nowMs) => {
  const body = JSON.stringify(
    notification.channel === 'alerts'
      ? alertJson(notification.alert, notification.event)
      : incidentJson(notification.incident, notification.event),
  )
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (secret !== undefined) Object.assign(headers, signedHeaders(secret, body, nowMs))
  return { body, headers }
}
