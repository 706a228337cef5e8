import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../../audit/audit-log.js'
import type { AlertService } from '../../observability/alerts.js'
import type { Database } from '../../store/tables.js'
import { principalOf } from '../auth.js'
import { IdParams, problems } from '../schemas/common.js'
import { Alert, AlertsQuery } from '../schemas/observability.js'

export interface AlertRoutesDeps {
  alerts: Pick<AlertService, 'list' | 'ack'>
  audit: Pick<AuditLog, 'append'>
  db: Kysely<Database>
}

/** Listing and acknowledging alerts; raising and resolving belong to the engine. */
export function alertRoutes(deps: AlertRoutesDeps): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/v1/alerts',
      {
        config: { action: 'alerts.read' },
        schema: {
          summary: 'List alerts, newest activity first',
          tags: ['alerts'],
          operationId: 'listAlerts',
          querystring: AlertsQuery,
          response: { 200: z.array(Alert), ...problems(400) },
        },
      },
      async (request) =>
        deps.alerts.list(request.query.state === undefined ? {} : { state: request.query.state }),
    )

    app.post(
      '/v1/alerts/:id/ack',
      {
        config: { action: 'alerts.ack' },
        schema: {
          summary: 'Acknowledge an alert',
          tags: ['alerts'],
          operationId: 'ackAlert',
          params: IdParams,
          response: { 200: Alert, ...problems(400, 404, 409) },
        },
      },
      async (request) => {
        const actor = principalOf(request)
        // state change and its audit record commit together, or neither does
        return deps.db.transaction().execute(async (trx) => {
          const alert = await deps.alerts.ack(request.params.id, actor.user, trx)
          await deps.audit.append(trx, {
            actor: actor.user,
            action: 'alerts.ack',
            target: alert.id,
            correlationId: request.correlationId,
            details: { type: alert.type, key: alert.key, runId: alert.runId },
          })
          return alert
        })
      },
    )
  }
}
