import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import type { Kysely } from 'kysely'
import type { HaltControl } from '../../governance/halt-control.js'
import { readHalt, type HaltStatus } from '../../store/halt-repository.js'
import type { Database } from '../../store/tables.js'
import { principalOf } from '../auth.js'
import { problems } from '../schemas/common.js'
import { Approval, EngageHaltBody, Halt, ReleaseHaltBody } from '../schemas/governance.js'

export type { HaltStatus }

/** Reads the halt switch; the engine's halt service can stand in for it once it exists. */
export interface HaltReader {
  read(): Promise<HaltStatus>
}

/** A HaltReader over the halt row, read by the one reader every folder uses (store/halt-repository). */
export function createHaltReader(db: Kysely<Database>): HaltReader {
  return { read: () => readHalt(db) }
}

/** `GET /v1/halt`; engaging and releasing are `haltControlRoutes`. */
export function haltRoutes(deps: { halt: HaltReader }): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/v1/halt',
      {
        config: { action: 'halt.read' },
        schema: {
          summary: 'Whether the global halt is engaged',
          tags: ['halt'],
          operationId: 'getHalt',
          response: { 200: Halt },
        },
      },
      async () => deps.halt.read(),
    )
  }
}

/**
 * `POST /v1/halt` engages the halt (409 when it is engaged already); `POST /v1/halt/release`
 * answers 202 with the release approval it opened (409 CONFLICT when the halt is not engaged,
 * 409 NOT_VERIFIED while verify --all fails).
 */
export function haltControlRoutes(deps: {
  halt: Pick<HaltControl, 'engage' | 'requestRelease'>
}): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.post(
      '/v1/halt',
      {
        config: { action: 'halt.engage' },
        schema: {
          summary: 'Engage the global halt: no run starts a phase until it is released',
          tags: ['halt'],
          operationId: 'engageHalt',
          body: EngageHaltBody,
          response: { 200: Halt, ...problems(400, 409) },
        },
      },
      async (request) => deps.halt.engage(principalOf(request), request.body.reason, request.correlationId),
    )

    app.post(
      '/v1/halt/release',
      {
        config: { action: 'halt.release' },
        schema: {
          summary: 'Ask to release the halt: needs verify --all and a security and an admin approval',
          tags: ['halt'],
          operationId: 'requestHaltRelease',
          body: ReleaseHaltBody,
          response: { 202: Approval.describe('the release approval it opened'), ...problems(400, 409) },
        },
      },
      async (request, reply) => {
        const approval = await deps.halt.requestRelease(
          principalOf(request),
          request.body?.reason,
          request.correlationId,
        )
        return reply.code(202).send(approval)
      },
    )
  }
}
