import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { IdParams, problems } from '../schemas/common.js'
import { CloseIncidentBody, Incident, IncidentsQuery } from '../schemas/observability.js'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../../audit/audit-log.js'
import type { IncidentService } from '../../observability/incidents.js'
import type { Database } from '../../store/tables.js'
import { principalOf } from '../auth.js'

/** Listing incidents and closing them with a root cause analysis; opening belongs to the engine. */
export function incidentRoutes(deps: {
  incidents: Pick<IncidentService, 'list' | 'get' | 'close'>
  audit: Pick<AuditLog, 'append'>
  db: Kysely<Database>
}): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/v1/incidents',
      {
        config: { action: 'incidents.read' },
        schema: {
          summary: 'List incidents, newest first',
          tags: ['incidents'],
          operationId: 'listIncidents',
          querystring: IncidentsQuery,
          response: { 200: z.array(Incident), ...problems(400) },
        },
      },
      async (request) =>
        deps.incidents.list(request.query.state === undefined ? {} : { state: request.query.state }),
    )

    app.get(
      '/v1/incidents/:id',
      {
        config: { action: 'incidents.read' },
        schema: {
          summary: 'One incident',
          tags: ['incidents'],
          operationId: 'getIncident',
          params: IdParams,
          response: { 200: Incident, ...problems(400, 404) },
        },
      },
      async (request) => deps.incidents.get(request.params.id),
    )

    app.post(
      '/v1/incidents/:id/close',
      {
        config: { action: 'incidents.close' },
        schema: {
          summary: 'Close an incident with its root cause analysis',
          tags: ['incidents'],
          operationId: 'closeIncident',
          params: IdParams,
          body: CloseIncidentBody,
          response: { 200: Incident, ...problems(400, 404, 409) },
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
