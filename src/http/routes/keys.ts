import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Kysely } from 'kysely'
import type { EmergencyRotation } from '../../engine/requests/emergency-rotation.js'
import type { ForwardCorrection } from '../../engine/requests/forward-correction.js'
import type { MaterialService } from '../../engine/keys/material-service.js'
import type { RunService } from '../../engine/runs/rotation-service.js'
import { matchesEtag } from '../../engine/keys/jwks-cache.js'
import { keyView, keyViewPage, runView } from '../../engine/views.js'
import type { Database } from '../../store/tables.js'
import { assertKeyBinding, principalOf } from '../auth.js'
import { sendPage } from '../paging.js'
import { idempotencyKeyOf } from '../idempotency-key.js'
import { problems } from '../schemas/common.js'
import { Jwk, Jwks, Key, KeyParams, KeysQuery, MaterialParams } from '../schemas/keys.js'
import { ForwardCorrectionBody, IdempotencyHeaders, RotationBody, Run } from '../schemas/runs.js'

export interface KeyRoutesDeps {
  db: Kysely<Database>
  runs: Pick<RunService, 'request'>
  material: MaterialService
  forwardCorrection: Pick<ForwardCorrection, 'request'>
  emergency: Pick<EmergencyRotation, 'request'>
}

/** Keys, their rotations, and the material and public keys dependents load. */
export function keyRoutes(deps: KeyRoutesDeps): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.get(
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
          operationId: 'listKeys',
          querystring: KeysQuery,
          response: { 200: z.array(Key), ...problems(400) },
        },
      },
      async (request, reply) => {
        const { limit, cursor, q } = request.query
        return sendPage(request, reply, await keyViewPage(deps.db, { limit, cursor, search: q }))
      },
    )

    app.get(
      '/v1/keys/:key',
      {
        config: { action: 'keys.read' },
        schema: {
          summary: 'One key with versions, aliases and dependents',
          tags: ['keys'],
          operationId: 'getKey',
          params: KeyParams,
          response: { 200: Key, ...problems(400, 404) },
        },
      },
      async (request) => keyView(deps.db, request.params.key),
    )

    app.post(
      '/v1/keys/:key/rotations',
      {
        config: { action: 'rotation.trigger' },
        schema: {
          summary: 'Start a rotation (201), or get the run of a repeated idempotency key (200)',
          tags: ['runs'],
          operationId: 'startRotation',
          params: KeyParams,
          headers: IdempotencyHeaders,
          body: RotationBody,
          response: {
            200: Run.describe('the run of a repeated idempotency key'),
            201: Run.describe('the run started'),
            ...problems(400, 404, 409, 422, 423),
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

    app.post(
      '/v1/keys/:key/forward-corrections',
      {
        config: { action: 'rotation.forward-correct' },
        schema: {
          summary: 'Request a forward correction of a halted key: a run that waits for a security approval',
          tags: ['runs'],
          operationId: 'requestForwardCorrection',
          params: KeyParams,
          headers: IdempotencyHeaders,
          body: ForwardCorrectionBody,
          response: {
            200: Run.describe('the run of a repeated idempotency key'),
            201: Run.describe('the run requested (awaiting approval)'),
            ...problems(400, 404, 409, 423),
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

    app.get(
      '/v1/keys/:key/jwks.json',
      {
        config: { action: 'public' },
        schema: {
          summary: 'Public keys of the versions verifiers may use',
          tags: ['material'],
          operationId: 'getJwks',
          params: KeyParams,
          response: {
            // sent as the cached text it was hashed from (its ETag), so declared by media type
            200: { description: 'The JWKS (RFC 7517)', content: { 'application/json': { schema: Jwks } } },
            304: z.null().describe('Not modified (If-None-Match matched the ETag)'),
            ...problems(400, 404),
          },
        },
      },
      async (request, reply) => {
        const document = await deps.material.jwksDocument(request.params.key)
        void reply
          .header('Cache-Control', `public, max-age=${document.maxAgeSeconds}`)
          .header('ETag', document.etag)
        if (matchesEtag(request.headers['if-none-match'], document.etag)) return reply.code(304).send(null)
        // the JWKS as the JSON text its ETag was computed over: Fastify sends text as it is, so the
        // type says what the text holds rather than re-serializing it on every request
        const jwksText = document.body as unknown as z.output<typeof Jwks>
        return reply.type('application/json; charset=utf-8').send(jwksText)
      },
    )

    app.get(
      '/v1/keys/:key/versions/:version/material',
      {
        config: { action: 'material.read' },
        schema: {
          summary: "A version's material as a JWK, for a consumer token bound to the key (audited)",
          tags: ['material'],
          operationId: 'getMaterial',
          params: MaterialParams,
          response: { 200: Jwk, ...problems(400, 404, 409, 410, 502, 503) },
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
