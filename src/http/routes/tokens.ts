import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../../audit/audit-log.js'
import type { TokenStore } from '../../governance/tokens.js'
import type { Database } from '../../store/tables.js'
import { principalOf } from '../auth.js'
import { IdParams, problems } from '../schemas/common.js'
import { CreatedToken, CreateTokenBody, TokenInfo } from '../schemas/governance.js'

export interface TokenRoutesDeps {
  /** The token store over a given executor, so a change and its audit record share a transaction. */
  tokenStore: (db: Kysely<Database>) => Pick<TokenStore, 'create' | 'list' | 'revoke'>
  audit: Pick<AuditLog, 'append'>
  db: Kysely<Database>
}

/** Token management, admin only. The token itself is answered once and never logged or audited. */
export function tokenRoutes(deps: TokenRoutesDeps): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    const config = { action: 'tokens.manage' } as const

    app.post(
      '/v1/tokens',
      {
        config,
        schema: {
          summary: 'Create a token (shown once)',
          tags: ['tokens'],
          operationId: 'createToken',
          body: CreateTokenBody,
          response: { 201: CreatedToken, ...problems(400, 404) },
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

    app.get(
      '/v1/tokens',
      {
        config,
        schema: {
          summary: 'List tokens (never their secrets)',
          tags: ['tokens'],
          operationId: 'listTokens',
          response: { 200: z.array(TokenInfo) },
        },
      },
      async () => deps.tokenStore(deps.db).list(),
    )

    app.post(
      '/v1/tokens/:id/revoke',
      {
        config,
        schema: {
          summary: 'Revoke a token (idempotent)',
          tags: ['tokens'],
          operationId: 'revokeToken',
          params: IdParams,
          response: { 200: TokenInfo, ...problems(400, 404) },
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
