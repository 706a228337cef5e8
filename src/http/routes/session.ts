import type { FastifyPluginAsync } from 'fastify'
import { ACTIONS, can } from '../../governance/permissions.js'
import { principalOf } from '../auth.js'

/** Who the token belongs to and what it may do: the console shows only those actions. */
export interface SessionView {
  user: string
  role: string
  actions: string[]
}

/** `GET /v1/session`: the caller's user, role and permitted actions (the server still checks each). */
export function sessionRoutes(): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/v1/session',
      {
        // every person's role may read keys; a consumer token is not for people and is refused
        config: { action: 'keys.read' },
        schema: {
          summary: "The token's user, role and the actions that role may take",
          tags: ['tokens'],
          response: {
            200: {
              type: 'object',
              required: ['user', 'role', 'actions'],
              properties: {
                user: { type: 'string' },
                role: { type: 'string' },
                actions: { type: 'array', items: { type: 'string' } },
              },
            },
          },
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
