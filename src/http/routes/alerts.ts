import type { FastifyPluginAsync } from 'fastify'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../../audit/audit-log.js'
import {
  ALERT_SEVERITIES,
  ALERT_STATES,
  ALERT_TYPES,
  type AlertService,
  type AlertListQuery,
} from '../../observability/alerts.js'
import type { Database } from '../../store/tables.js'
import { principalOf } from '../auth.js'
import { pageProperties, sendPage, timeRangeProperties } from '../paging.js'

export interface AlertRoutesDeps {
  alerts: Pick<AlertService, 'page' | 'ack'>
  audit: Pick<AuditLog, 'append'>
  db: Kysely<Database>
}

const NULLABLE_STRING = { type: ['string', 'null'] }

export const ALERT_SCHEMA = {
  type: 'object',
  required: ['id', 'type', 'severity', 'key', 'runId', 'correlationId', 'message', 'count', 'state'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string', enum: [...ALERT_TYPES] },
    severity: { type: 'string', enum: [...ALERT_SEVERITIES] },
    key: NULLABLE_STRING,
    runId: NULLABLE_STRING,
    correlationId: NULLABLE_STRING,
    message: { type: 'string' },
    count: { type: 'integer' },
    state: { type: 'string', enum: [...ALERT_STATES] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
}

/** Listing and acknowledging alerts; raising and resolving belong to the engine. */
export function alertRoutes(deps: AlertRoutesDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: AlertListQuery }>(
      '/v1/alerts',
      {
        config: { action: 'alerts.read' },
        schema: {
          summary: 'List alerts, newest activity first: all, or one page with `limit` and `cursor`',
          tags: ['alerts'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              state: { type: 'string', enum: [...ALERT_STATES] },
              type: { type: 'string', enum: [...ALERT_TYPES] },
              key: { type: 'string', maxLength: 200 },
              ...timeRangeProperties('Alerts with activity'),
              ...pageProperties(),
            },
          },
          response: { 200: { type: 'array', items: ALERT_SCHEMA } },
        },
      },
      async (request, reply) => sendPage(request, reply, await deps.alerts.page(request.query)),
    )

    app.post<{ Params: { id: string } }>(
      '/v1/alerts/:id/ack',
      {
        config: { action: 'alerts.ack' },
        schema: {
          summary: 'Acknowledge an alert',
          tags: ['alerts'],
          params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
          response: { 200: ALERT_SCHEMA },
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
