import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { z } from 'zod'
import { Session } from '../schemas/governance.js'
import { ACTIONS, can } from '../../governance/permissions.js'
import { principalOf } from '../auth.js'

/** Who the token belongs to and what it may do: the console shows only those actions. */
export type SessionView = z.infer<typeof Session>

/** `GET /v1/session`: the caller's user, role and permitted actions (the server still checks each). */
export function sessionRoutes(): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/v1/session',
      {
        // every person's role may read keys; a consumer token is not for people and is refused
        config: { action: 'keys.read' },
        schema: {
          summary: "The token's user, role and the actions that role may take",
          tags: ['tokens'],
          operationId: 'getSession',
          response: { 200: Session },
        },
      },
      async (request): Promise<SessionView> => {
        const principal = principalOf(request)
        return {
          user: principal.user,
          role: principal.role,
          actions: ACTIONS.filter((action) => can(principal.role, action)),
        }
      },
    )
  }
}
