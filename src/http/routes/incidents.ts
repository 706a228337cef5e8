import type { FastifyPluginAsync } from 'fastify'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../../audit/audit-log.js'
import {
  INCIDENT_SEVERITIES,
  INCIDENT_STATES,
  type IncidentService,
  type IncidentListQuery,
} from '../../observability/incidents.js'
import type { Database } from '../../store/tables.js'
import { principalOf } from '../auth.js'
import { pageProperties, sendPage, timeRangeProperties } from '../paging.js'

const NULLABLE_STRING = { type: ['string', 'null'] }

export const INCIDENT_SCHEMA = {
  type: 'object',
  required: ['id', 'state', 'title', 'correlationId', 'runId', 'key', 'openedAt', 'closedAt', 'rca'],
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: [...INCIDENT_STATES] },
    severity: { type: 'string', enum: [...INCIDENT_SEVERITIES] },
    title: { type: 'string' },
    summary: { type: 'string' },
    correlationId: NULLABLE_STRING,
    runId: NULLABLE_STRING,
    key: NULLABLE_STRING,
    escalatedTo: { type: 'array', items: { type: 'string' } },
    openedAt: { type: 'string' },
    closedAt: NULLABLE_STRING,
    closedBy: NULLABLE_STRING,
    rca: NULLABLE_STRING,
  },
}

const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } }

/** Listing incidents and closing them with a root cause analysis; opening belongs to the engine. */
export function incidentRoutes(deps: {
  incidents: Pick<IncidentService, 'page' | 'get' | 'close'>
  audit: Pick<AuditLog, 'append'>
  db: Kysely<Database>
}): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: IncidentListQuery }>(
      '/v1/incidents',
      {
        config: { action: 'incidents.read' },
        schema: {
          summary: 'List incidents, newest first: all, or one page with `limit` and `cursor`',
          tags: ['incidents'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              state: { type: 'string', enum: [...INCIDENT_STATES] },
              severity: { type: 'string', enum: [...INCIDENT_SEVERITIES] },
              key: { type: 'string', maxLength: 200 },
              ...timeRangeProperties('Incidents opened'),
              ...pageProperties(),
            },
          },
          response: { 200: { type: 'array', items: INCIDENT_SCHEMA } },
        },
      },
      async (request, reply) => sendPage(request, reply, await deps.incidents.page(request.query)),
    )

    app.get<{ Params: { id: string } }>(
      '/v1/incidents/:id',
      {
        config: { action: 'incidents.read' },
        schema: {
          summary: 'One incident',
          tags: ['incidents'],
          params: ID_PARAMS,
          response: { 200: INCIDENT_SCHEMA },
        },
      },
      async (request) => deps.incidents.get(request.params.id),
    )

    app.post<{ Params: { id: string }; Body: { rca: string } }>(
      '/v1/incidents/:id/close',
      {
        config: { action: 'incidents.close' },
        schema: {
          summary: 'Close an incident with its root cause analysis',
          tags: ['incidents'],
          params: ID_PARAMS,
          body: {
            type: 'object',
            required: ['rca'],
            additionalProperties: false,
            properties: { rca: { type: 'string', minLength: 1, maxLength: 200_000 } },
          },
          response: { 200: INCIDENT_SCHEMA },
        },
      },
      async (request) => {
        const actor = principalOf(request)
        // the closing and its audit record commit together
        return deps.db.transaction().execute(async (trx) => {
          const incident = await deps.incidents.close(request.params.id, actor.user, request.body.rca, trx)
          await deps.audit.append(trx, {
            actor: actor.user,
            action: 'incident.closed',
            target: incident.id,
            correlationId: incident.correlationId ?? request.correlationId,
            details: { title: incident.title, runId: incident.runId, key: incident.key },
          })
          return incident
        })
      },
    )
  }
}
