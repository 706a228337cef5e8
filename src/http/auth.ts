import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../audit/audit-log.js'
import { KeyrotorError, type ErrorCode } from '../errors.js'
import { can, type Action } from '../governance/permissions.js'
import type { Principal, TokenStore } from '../governance/tokens.js'
import type { Database } from '../store/tables.js'

/** What a route declares in `config.action`: the permission it needs, or `'public'`. */
export type RouteAction = Action | 'public'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Required on every route: a route without one is refused (fail closed). */
    action?: RouteAction
  }
  interface FastifyRequest {
    /** The authenticated caller; null only on public routes. */
    principal: Principal | null
    /** The request's correlation id (the same as `request.id`). */
    readonly correlationId: string
  }
  interface FastifySchema {
    /** For the OpenAPI document (the @fastify/swagger convention). */
    summary?: string
    description?: string
    tags?: string[]
    /** Left out of the OpenAPI document (the console's page and assets). */
    hide?: boolean
  }
}

export interface AuthDeps {
  tokens: Pick<TokenStore, 'authenticate'>
  audit: Pick<AuditLog, 'append'>
  db: Kysely<Database>
}

// kr_ tokens are 46 characters; the bound only keeps absurd headers away from the store
const BEARER = /^Bearer +([\x21-\x7e]{1,512})$/i

/**
 * Authenticates and authorizes every request before its body is even read: the route's
 * `config.action` decides. Public routes pass; a route that declares nothing is refused; every
 * refusal is logged and audited as `auth.denied`.
 */
export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('principal', null)
  app.addHook('onRequest', async (request) => {
    // the not-found handler answers 404 to anyone; nothing is behind it
    if (request.is404) return
    const action = request.routeOptions.config.action
    if (action === 'public') return
    if (action === undefined) {
      return deny(request, null, 'FORBIDDEN', 'this route declares no permission and is refused')
    }
    const match = BEARER.exec(request.headers.authorization ?? '')
    if (match?.[1] === undefined) {
      return deny(request, null, 'UNAUTHENTICATED', 'an Authorization: Bearer token is required')
    }
    const principal = await deps.tokens.authenticate(match[1])
    if (principal === null) {
      return deny(request, null, 'UNAUTHENTICATED', 'the token is unknown, expired or revoked')
    }
    if (!can(principal.role, action)) {
      return deny(request, principal, 'FORBIDDEN', `role ${principal.role} may not ${action}`)
    }
    request.principal = principal
  })

  async function deny(
    request: FastifyRequest,
    principal: Principal | null,
    code: ErrorCode,
    reason: string,
  ): Promise<never> {
    const actor = principal?.user ?? 'anonymous'
    const details = {
      method: request.method,
      path: request.url.split('?')[0],
      action: request.routeOptions.config.action ?? null,
      role: principal?.role ?? null,
      tokenId: principal?.id ?? null,
      ip: request.ip,
    }
    request.log.warn({ actor, code, reason, ...details }, 'access denied')
    try {
      await deps.audit.append(deps.db, {
        actor,
        action: 'auth.denied',
        target: `${request.method} ${details.path}`,
        correlationId: request.correlationId,
        reason,
        details,
      })
    } catch (error) {
      // the refusal stands either way; a failing audit write must not turn it into a 500
      request.log.error({ err: error }, 'could not audit an access denial')
    }
    throw new KeyrotorError(code, reason)
  }
}

/** The caller of an authenticated route; UNAUTHENTICATED if called on a public one by mistake. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new KeyrotorError('UNAUTHENTICATED', 'this route needs a token')
  return request.principal
}

/**
 * Consumer tokens are bound to one key: FORBIDDEN unless `principal` may act on `keyId`. People's
 * roles carry no binding (their permission was checked by the hook).
 */
export function assertKeyBinding(principal: Principal, keyId: string): void {
  if (principal.role !== 'consumer') return
  if (principal.keyId !== keyId) {
    throw new KeyrotorError(
      'FORBIDDEN',
      `consumer ${principal.user} is bound to key ${principal.keyId ?? '(none)'}, not ${keyId}`,
    )
  }
}
