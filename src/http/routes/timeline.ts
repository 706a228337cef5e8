import type { FastifyPluginAsync } from 'fastify'
import type { TimelineService } from '../../observability/timeline.js'
import { timelineMarkdown } from '../../observability/timeline-markdown.js'

/** The ids keyrotor accepts as correlation ids (see correlationIdOf in app.ts). */
const CORRELATION_ID = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'

/** The ordered story of one correlation id, as JSON or as Markdown for an incident ticket. */
export function timelineRoutes(deps: { timeline: Pick<TimelineService, 'build'> }): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { correlationId: string }; Querystring: { format?: 'json' | 'md' } }>(
      '/v1/timeline/:correlationId',
      {
        config: { action: 'timeline.read' },
        schema: {
          summary:
            'Everything recorded under one correlation id, in time order: runs, phases, notices, probe answers, alerts, approvals, incidents, audit records, log lines',
          tags: ['timeline'],
          params: {
            type: 'object',
            required: ['correlationId'],
            properties: { correlationId: { type: 'string', pattern: CORRELATION_ID } },
          },
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { format: { type: 'string', enum: ['json', 'md'] } },
          },
        },
      },
      async (request, reply) => {
        const timeline = await deps.timeline.build(request.params.correlationId)
        if (request.query.format !== 'md') return timeline
        return reply.type('text/markdown; charset=utf-8').send(timelineMarkdown(timeline))
      },
    )
  }
}
