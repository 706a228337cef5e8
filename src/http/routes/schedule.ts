import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { Schedule } from '../schemas/observability.js'
import type { RotationScheduler } from '../../engine/schedule/rotation-scheduler.js'

/** `GET /v1/schedule`: each key's next due time and, when it is not starting now, why. */
export function scheduleRoutes(deps: { scheduler: Pick<RotationScheduler, 'plan'> }): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/v1/schedule',
      {
        config: { action: 'keys.read' },
        schema: {
          summary: 'The built-in schedule: next due time per key and why a key is not due now',
          description:
            'status is one of due, waiting (spread over the window), not_due, outside_window, blackout, ' +
            'halted, running, frozen, retry_later (after a pre-flight refusal), needs_attention ' +
            '(a scheduled run failed: a person decides), no_period, no_active_version.',
          tags: ['schedule'],
          operationId: 'getSchedule',
          response: { 200: Schedule },
        },
      },
      async () => deps.scheduler.plan(),
    )
  }
}
