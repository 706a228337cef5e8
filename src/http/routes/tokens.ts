import type { FastifyPluginAsync } from 'fastify'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../../audit/audit-log.js'
import { ROLES, type Role } from '../../governance/roles.js'
import type { TokenListQuery, TokenStore } from '../../governance/tokens.js'
import type { Database } from '../../store/tables.js'
import { principalOf } from '../auth.js'
import { pageProperties, sendPage, timeRangeProperties } from '../paging.js'

export interface TokenRoutesDeps {
  /** The token store over a given executor, so a change and its audit record share a transaction. */
  tokenStore: (db: Kysely<Database>) => Pick<TokenStore, 'create' | 'page' | 'revoke'>
  audit: Pick<AuditLog, 'append'>
  db: Kysely<Database>
}

const TOKEN_INFO = {
  type: 'object',
  required: ['id', 'user', 'role', 'key', 'createdAt', 'createdBy', 'expiresAt', 'revokedAt', 'lastUsedAt'],
  properties: {
    id: { type: 'string' },
    user: { type: 'string' },
    role: { type: 'string', enum: [...ROLES] },
    key: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    createdBy: { type: 'string' },
    expiresAt: { type: ['string', 'null'] },
    revokedAt: { type: ['string', 'null'] },
    lastUsedAt: { type: ['string', 'null'] },
  },
}

// 12h, 30d, 1h30m: the units of parseDuration, and at least a minute (checked by the token store)
const DURATION = '^(\\d{1,6}(ms|s|m|h|d|w))+$'

const ID_PARAMS = { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } }

/** Token management, admin only. The token itself is answered once and never logged or audited. */
export function tokenRoutes(deps: TokenRoutesDeps): FastifyPluginAsync {
  return async (app) => {
    const config = { action: 'tokens.manage' } as const

    app.post<{
      Body: { user: string; role: Role; key?: string; expiresAt?: string; expiresIn?: string }
    }>(
      '/v1/tokens',
      {
        config,
        schema: {
          summary: 'Create a token (shown once)',
          tags: ['tokens'],
          body: {
            type: 'object',
            required: ['user', 'role'],
            additionalProperties: false,
            properties: {
              user: { type: 'string', minLength: 1, maxLength: 128 },
              role: { type: 'string', enum: [...ROLES] },
              key: {
                type: 'string',
                minLength: 1,
                maxLength: 200,
                description: 'the key a consumer is bound to',
              },
              expiresAt: { type: 'string', format: 'date-time' },
              expiresIn: {
                type: 'string',
                minLength: 1,
                maxLength: 32,
                pattern: DURATION,
                description: 'a lifetime such as 12h or 30d, instead of expiresAt',
              },
            },
          },
          response: {
            201: {
              type: 'object',
              required: ['token', 'id', 'expiresAt'],
              properties: {
                token: { type: 'string' },
                id: { type: 'string' },
                expiresAt: { type: ['string', 'null'] },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const actor = principalOf(request)
        const { user, role, key, expiresAt, expiresIn } = request.body
        // the token and its audit record commit together: no token exists that the log does not show
        const created = await deps.db.transaction().execute(async (trx) => {
          const token = await deps
            .tokenStore(trx)
            .create({ user, role, keyId: key, expiresAt, expiresIn, createdBy: actor.user })
          await deps.audit.append(trx, {
            actor: actor.user,
            action: 'tokens.create',
            target: token.id,
            correlationId: request.correlationId,
            details: { user, role, key: key ?? null, expiresAt: token.expiresAt },
          })
          return token
        })
        return reply.code(201).send(created)
      },
    )

    app.get<{ Querystring: TokenListQuery }>(
      '/v1/tokens',
      {
        config,
        schema: {
          summary:
            'List tokens oldest first, never their secrets: all, or one page with `limit` and `cursor`',
          tags: ['tokens'],
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              user: { type: 'string', maxLength: 128 },
              role: { type: 'string', enum: [...ROLES] },
              key: { type: 'string', maxLength: 200, description: 'Consumer tokens bound to this key' },
              ...timeRangeProperties('Tokens created'),
              ...pageProperties(),
            },
          },
          response: { 200: { type: 'array', items: TOKEN_INFO } },
        },
      },
      async (request, reply) => sendPage(request, reply, await deps.tokenStore(deps.db).page(request.query)),
    )

    app.post<{ Params: { id: string } }>(
      '/v1/tokens/:id/revoke',
      {
        config,
        schema: {
          summary: 'Revoke a token (idempotent)',
          tags: ['tokens'],
          params: ID_PARAMS,
          response: { 200: TOKEN_INFO },
        },
      },
      async (request) => {
        const actor = principalOf(request)
        return deps.db.transaction().execute(async (trx) => {
          const info = await deps.tokenStore(trx).revoke(request.params.id)
          await deps.audit.append(trx, {
            actor: actor.user,
            action: 'tokens.revoke',
            target: info.id,
            correlationId: request.correlationId,
            details: { user: info.user, role: info.role },
          })
          return info
        })
      },
    )
  }
}
