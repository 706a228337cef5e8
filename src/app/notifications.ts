import type { Kysely } from 'kysely'
import { createAuditStreamer, type AuditStreamer } from '../audit/stream/audit-streamer.js'
import { packagedRunbooksDir, reviewRunbooks } from '../governance/runbook-review.js'
import { readKeyAges } from '../observability/key-ages.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { registerRunbooksOverdue } from '../observability/runbook-gauge.js'
import { activeSinkTargets } from '../observability/sinks/active-sinks.js'
import { createDeliveryOutbox, type DeliveryOutbox } from '../observability/sinks/delivery-outbox.js'
import { loadActiveConfig } from '../store/config-versions-repository.js'
import type { Database } from '../store/tables.js'
import type { StartOptions } from './start-options.js'

interface NotificationDeps {
  db: Kysely<Database>
  secretOf: (name: string) => string | undefined
  metrics: Metrics
  logger: Logger
  options: StartOptions
}

/**
 * The sinks of the active config, fed from durable queues: alerts and incidents through the
 * outbox, every committed audit record (with its chain hash) to the `notifications.audit` sinks.
 */
export function createNotifications(deps: NotificationDeps): {
  outbox: DeliveryOutbox
  auditStream: AuditStreamer
} {
  const { db, secretOf, metrics, logger, options } = deps
  const outbox = createDeliveryOutbox({
    db,
    targets: activeSinkTargets(db, secretOf),
    secretOf,
    log: logger.child({ component: 'notifications' }),
    onAttempt: (target, outcome) => metrics.notificationAttempt(target.channel, target.type, outcome),
    ...options.notifications,
  })
  const auditStream = createAuditStreamer({
    db,
    targets: async () => (await loadActiveConfig(db))?.notifications.audit ?? [],
    secretOf,
    log: logger.child({ component: 'audit-stream' }),
    onAttempt: (sink, outcome) => metrics.notificationAttempt('audit', sink.type, outcome),
    ...options.auditStream,
  })
  return { outbox, auditStream }
}

/** The gauges read at scrape time: key ages, pending notifications, sinks, overdue runbooks. */
export function registerGauges(deps: NotificationDeps & { outbox: DeliveryOutbox }): void {
  const { db, metrics, logger, options, outbox } = deps
  metrics.collectFrom({
    keyAges: () => readKeyAges(db),
    notificationsPending: () => outbox.pendingCount(),
    sinks: activeSinkTargets(db, deps.secretOf),
    onError: (error) => logger.warn({ err: error }, 'could not compute gauges from the store'),
  })
  const runbooksDir = options.runbooksDir ?? packagedRunbooksDir()
  registerRunbooksOverdue(
    metrics.registry,
    () =>
      runbooksDir === undefined
        ? 0
        : reviewRunbooks(runbooksDir, {
            now: new Date(),
            reviewPeriodMs: options.runbookReviewPeriodMs,
          }).filter((r) => r.overdue).length,
    (error) => logger.warn({ err: error, runbooksDir }, 'could not read the runbooks for their review dates'),
  )
}
