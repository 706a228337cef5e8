import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { problems } from '../schemas/common.js'
import { Timeline, TimelineParams, TimelineQuery } from '../schemas/observability.js'
import type { TimelineService } from '../../observability/timeline.js'
import { timelineMarkdown } from '../../observability/timeline-markdown.js'

/** The ordered story of one correlation id, as JSON or as Markdown for an incident ticket. */
export function timelineRoutes(deps: { timeline: Pick<TimelineService, 'build'> }): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/v1/timeline/:correlationId',
      {
        config: { action: 'timeline.read' },
        schema: {
          summary:
            'Everything recorded under one correlation id, in time order: runs, phases, notices, probe answers, alerts, approvals, incidents, audit records, log lines',
          tags: ['timeline'],
          operationId: 'getTimeline',
          params: TimelineParams,
          querystring: TimelineQuery,
          response: {
            200: {
              description: 'The story as JSON, or with `?format=md` as Markdown',
              content: {
                'application/json': { schema: Timeline },
                'text/markdown': { schema: z.string() },
              },
            },
            ...problems(400, 404),
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
