import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../audit/audit-log.js'
import { KeyrotorError, type ErrorCode } from '../errors.js'
import { can, type Action } from '../governance/permissions.js'
import type { Principal, TokenStore } from '../governance/tokens.js'
import type { Database } from '../store/tables.js'
import { ThrottledError, type AuthThrottle } from './auth-throttle.js'

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
    tags?: readonly string[]
    /** Left out of the OpenAPI document (the console's page and assets). */
    hide?: boolean
  }
}

export interface AuthDeps {
  tokens: Pick<TokenStore, 'authenticate'>
  audit: Pick<AuditLog, 'append'>
  db: Kysely<Database>
  throttle: AuthThrottle
}

/** What a denial is about: the request as far as it could be read. */
interface Attempt {
  method: string
  path: string
  action: RouteAction | null
  ip: string
  correlationId: string
  log: FastifyRequest['log']
}

export interface Authenticator {
  /**
   * The caller of `attempt` by its Authorization header; refuses (and audits) a missing, unknown,
   * expired or revoked token, and any token from an address that failed too often.
   */
  authenticate(attempt: Attempt, authorization: string | undefined): Promise<Principal>
}

// kr_ tokens are 46 characters; the bound only keeps absurd headers away from the store
const BEARER = /^Bearer +([\x21-\x7e]{1,512})$/i

/**
 * Authenticates and authorizes every request before its body is even read: the route's
 * `config.action` decides. Public routes pass; a route that declares nothing is refused; every
 * refusal is logged and audited as `auth.denied`.
 */
export function registerAuth(app: FastifyInstance, deps: AuthDeps): Authenticator {
  app.decorateRequest('principal', null)

  const authenticator: Authenticator = {
    async authenticate(attempt, authorization) {
      try {
        await deps.throttle.check(attempt.ip)
      } catch (error) {
        // one record per address and window: a flood of refusals must not flood the log
        if (error instanceof ThrottledError && error.firstRefusal) {
          await record(attempt, null, 'auth.throttled', error.message)
        }
        throw error
      }
      const match = BEARER.exec(authorization ?? '')
      const principal = match?.[1] === undefined ? null : await deps.tokens.authenticate(match[1])
      if (principal === null) {
        await deps.throttle.failed(attempt.ip)
        return deny(
          attempt,
          null,
          'UNAUTHENTICATED',
          match === null
            ? 'an Authorization: Bearer token is required'
            : 'the token is unknown, expired or revoked',
        )
      }
      return principal
    },
  }

  app.addHook('onRequest', async (request) => {
    // the not-found handler answers 404 to anyone; nothing is behind it
    if (request.is404) return
    const action = request.routeOptions.config.action
    if (action === 'public') return
    const attempt = attemptOf(request)
    if (action === undefined) {
      return deny(attempt, null, 'FORBIDDEN', 'this route declares no permission and is refused')
    }
    const principal = await authenticator.authenticate(attempt, request.headers.authorization)
    if (!can(principal.role, action)) {
      return deny(attempt, principal, 'FORBIDDEN', `role ${principal.role} may not ${action}`)
    }
    request.principal = principal
  })

  async function deny(
    attempt: Attempt,
    principal: Principal | null,
    code: ErrorCode,
    reason: string,
  ): Promise<never> {
    await record(attempt, principal, 'auth.denied', reason, code)
    throw new KeyrotorError(code, reason)
  }

  async function record(
    attempt: Attempt,
    principal: Principal | null,
    action: 'auth.denied' | 'auth.throttled',
    reason: string,
    code: ErrorCode = 'RATE_LIMITED',
  ): Promise<void> {
    const actor = principal?.user ?? 'anonymous'
    const details = {
      method: attempt.method,
      path: attempt.path,
      action: attempt.action,
      role: principal?.role ?? null,
      tokenId: principal?.id ?? null,
      ip: attempt.ip,
    }
    attempt.log.warn(
      { actor, code, reason, ...details },
      action === 'auth.denied' ? 'access denied' : 'address throttled',
    )
    try {
      await deps.audit.append(deps.db, {
        actor,
        action,
        target: `${attempt.method} ${details.path}`,
        correlationId: attempt.correlationId,
        reason,
        details,
      })
    } catch (error) {
      // the refusal stands either way; a failing audit write must not turn it into a 500
      attempt.log.error({ err: error }, 'could not audit an access denial')
    }
  }

  return authenticator
}

function attemptOf(request: FastifyRequest): Attempt {
  return {
    method: request.method,
    path: request.url.split('?')[0] ?? '',
    action: request.routeOptions.config.action ?? null,
    ip: request.ip,
    correlationId: request.correlationId,
    log: request.log,
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
