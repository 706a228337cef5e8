import { formatPagerDuty } from './pagerduty-sink.js'
import type { SinkFormatter, WebhookSinkType } from './sink.js'
import { formatSlack } from './slack-sink.js'
import { formatWebhook } from './webhook-sink.js'

/** Every webhook-like sink type has its formatter (ticketing sinks: tickets/ticket-delivery.ts): a new type without one does not compile. */
export const SINK_FORMATTERS: Record<WebhookSinkType, SinkFormatter> = {
  webhook: formatWebhook,
  slack: formatSlack,
  pagerduty: formatPagerDuty,
}
