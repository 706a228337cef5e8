import { formatPagerDuty } from './pagerduty-sink.js'
import type { SinkFormatter, SinkType } from './sink.js'
import { formatSlack } from './slack-sink.js'
import { formatWebhook } from './webhook-sink.js'

/** Every sink type of the config schema has its formatter: a new type without one does not compile. */
export const SINK_FORMATTERS: Record<SinkType, SinkFormatter> = {
  webhook: formatWebhook,
  slack: formatSlack,
  pagerduty: formatPagerDuty,
}
