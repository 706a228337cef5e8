import type { FastifyPluginAsync } from 'fastify'
import type { Kysely } from 'kysely'
import type { EmergencyRotation } from '../../engine/emergency-rotation.js'
import type { ForwardCorrection } from '../../engine/forward-correction.js'
import type { MaterialService } from '../../engine/material-service.js'
import type { RunService } from '../../engine/rotation-service.js'
import { matchesEtag } from '../../engine/jwks-cache.js'
import { keyView, keyViewPage, runView } from '../../engine/views.js'
import type { Database } from '../../store/tables.js'
import { assertKeyBinding, principalOf } from '../auth.js'
import { IDEMPOTENCY_KEY_HEADER, idempotencyKeyOf } from '../idempotency-key.js'
import { pageProperties, sendPage } from '../paging.js'

export interface KeyRoutesDeps {
  db: Kysely<Database>
  runs: Pick<RunService, 'request'>
  material: MaterialService
  forwardCorrection: Pick<ForwardCorrection, 'request'>
  emergency: Pick<EmergencyRotation, 'request'>
}

const KEY_PARAMS = {
  type: 'object',
  required: ['key'],
  properties: { key: { type: 'string', minLength: 1, maxLength: 64 } },
} as const

interface RotationBody {
  idempotencyKey?: string
  reason?: string
  emergency?: boolean
  attempt?: number
}

/** Keys, their rotations, and the material and public keys dependents load. */
export function keyRoutes(deps: KeyRoutesDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Querystring: { limit?: number; cursor?: string; q?: string } }>(
      '/v1/keys',
      {
        config: { action: 'keys.read' },
        schema: {
          summary: 'List keys in id order: all of them, or one page with `limit` and `cursor`',
          description:
            'Without parameters every key is returned. For a large fleet, page: pass `limit`, then the ' +
            'id of the last key received (also sent as the X-Next-Cursor header while more follow) as ' +
            '`cursor` for the next page; `q` keeps the keys whose id or owner contains it (case-insensitive).',
          tags: ['keys'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              limit: pageProperties().limit,
              cursor: {
                type: 'string',
                minLength: 1,
                maxLength: 64,
                description: 'Start after this key id (the last id of the previous page)',
              },
              q: { type: 'string', maxLength: 64, description: 'Substring of the key id or owner' },
            },
          },
        },
      },
      async (request, reply) => {
        const { limit, cursor, q } = request.query
        return sendPage(request, reply, await keyViewPage(deps.db, { limit, cursor, search: q }))
      },
    )

    app.get<{ Params: { key: string } }>(
      '/v1/keys/:key',
      {
        config: { action: 'keys.read' },
        schema: {
          summary: 'One key with versions, aliases and dependents',
          tags: ['keys'],
          params: KEY_PARAMS,
        },
      },
      async (request) => keyView(deps.db, request.params.key),
    )

    app.post<{ Params: { key: string }; Body: RotationBody | null }>(
      '/v1/keys/:key/rotations',
      {
        config: { action: 'rotation.trigger' },
        schema: {
          summary: 'Start a rotation (201), or get the run of a repeated idempotency key (200)',
          tags: ['runs'],
          params: KEY_PARAMS,
          headers: IDEMPOTENCY_KEY_HEADER,
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: {
              idempotencyKey: { type: 'string', minLength: 1, maxLength: 200 },
              reason: { type: 'string', maxLength: 2000 },
              emergency: { type: 'boolean' },
              attempt: { type: 'integer', minimum: 0, maximum: 1_000_000 },
            },
          },
        },
      },
      async (request, reply) => {
        const body = request.body ?? {}
        const idempotencyKey = idempotencyKeyOf(request, body.idempotencyKey)
        const principal = principalOf(request)
        if (body.emergency === true) {
          // waits in awaiting_approval for a security token other than the requester's
          const { run, created } = await deps.emergency.request({
            keyId: request.params.key,
            requestedBy: { user: principal.user, role: principal.role },
            reason: body.reason,
            idempotencyKey,
            attempt: body.attempt,
          })
          return reply.code(created ? 201 : 200).send(runView(run))
        }
        const { run, created } = await deps.runs.request({
          keyId: request.params.key,
          kind: 'rotate',
          actor: principal.user,
          actorRole: principal.role,
          trigger: 'manual',
          idempotencyKey,
          reason: body.reason,
          attempt: body.attempt,
        })
        return reply.code(created ? 201 : 200).send(runView(run))
      },
    )

    app.post<{ Params: { key: string }; Body: { reason?: string; idempotencyKey?: string } | null }>(
      '/v1/keys/:key/forward-corrections',
      {
        config: { action: 'rotation.forward-correct' },
        schema: {
          summary: 'Request a forward correction of a halted key: a run that waits for a security approval',
          tags: ['runs'],
          params: KEY_PARAMS,
          headers: IDEMPOTENCY_KEY_HEADER,
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: {
              reason: { type: 'string', maxLength: 2000 },
              idempotencyKey: { type: 'string', minLength: 1, maxLength: 200 },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request)
        const { run, created } = await deps.forwardCorrection.request({
          keyId: request.params.key,
          requestedBy: { user: principal.user, role: principal.role },
          reason: request.body?.reason,
          idempotencyKey: idempotencyKeyOf(request, request.body?.idempotencyKey),
        })
        return reply.code(created ? 201 : 200).send(runView(run))
      },
    )

    app.get<{ Params: { key: string } }>(
      '/v1/keys/:key/jwks.json',
      {
        config: { action: 'public' },
        schema: {
          summary: 'Public keys of the versions verifiers may use',
          tags: ['material'],
          params: KEY_PARAMS,
        },
      },
      async (request, reply) => {
        const document = await deps.material.jwksDocument(request.params.key)
        void reply
          .header('Cache-Control', `public, max-age=${document.maxAgeSeconds}`)
          .header('ETag', document.etag)
        if (matchesEtag(request.headers['if-none-match'], document.etag)) return reply.code(304).send()
        return reply.type('application/json; charset=utf-8').send(document.body)
      },
    )

    app.get<{ Params: { key: string; version: number } }>(
      '/v1/keys/:key/versions/:version/material',
      {
        config: { action: 'material.read' },
        schema: {
          summary: "A version's material as a JWK, for a consumer token bound to the key (audited)",
          tags: ['material'],
          params: {
            type: 'object',
            required: ['key', 'version'],
            properties: {
              key: KEY_PARAMS.properties.key,
              version: { type: 'integer', minimum: 1, maximum: 2_147_483_647 },
            },
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request)
        assertKeyBinding(principal, request.params.key)
        void reply.header('Cache-Control', 'no-store')
        return deps.material.material(request.params.key, request.params.version, {
          user: principal.user,
          tokenId: principal.id,
          correlationId: request.id,
        })
      },
    )
  }
}
