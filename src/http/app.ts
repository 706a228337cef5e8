import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import {
  fastify,
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
} from 'fastify'
import type { Kysely } from 'kysely'
import type { AuditLog } from '../audit/audit-log.js'
import { KeyrotorError } from '../errors.js'
import type { TokenStore } from '../governance/tokens.js'
import type { AlertService } from '../observability/alerts.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import type { Database } from '../store/tables.js'
import { registerAuth, type Authenticator } from './auth.js'
import { registerAuthThrottle, type AuthThrottle, type AuthThrottleOptions } from './auth-throttle.js'
import { registerMetricsGuard } from './metrics-guard.js'
import { registerOpenApi, type OpenApiDocument } from './openapi.js'
import type { Readiness } from '../observability/readiness.js'
import { problemErrorHandlerWith } from './problem.js'
import type { HaltReader } from './routes/halt.js'
import { baseRoutes } from './routes/index.js'
import { registerSecurityHeaders } from './security-headers.js'
import { MAX_PARAM_LENGTH, urlErrorHandler } from './url-errors.js'
import { registerStrictValidation } from './validation.js'

/** Everything the HTTP edge needs; main.ts builds each one. */
export interface HttpDeps {
  logger: Logger
  db: Kysely<Database>
  /**
   * The token store over a given executor (`createTokenStore` fits), so that creating or revoking
   * a token commits in one transaction with its audit record.
   */
  tokenStore: (db: Kysely<Database>) => Pick<TokenStore, 'authenticate' | 'create' | 'page' | 'revoke'>
  audit: Pick<AuditLog, 'append'>
  alerts: Pick<AlertService, 'page' | 'ack' | 'openCount'>
  halt: HaltReader
  metrics: Pick<Metrics, 'render' | 'contentType' | 'setAlertsOpen' | 'setHaltEngaged'>
  /** Whether the store answers (see `storeAnswers` in routes/health.ts). */
  ready(): Promise<boolean>
  /** Told of requests the store could not serve; /readyz reports what it holds. */
  readiness?: Readiness | undefined
  /**
   * Further route plugins (keys, runs, JWKS, material, …). Each route declares
   * `config: { action }`; a route that does not is refused at request time.
   */
  routes?: readonly FastifyPluginAsync[]
  /** Version shown in the OpenAPI document. */
  version?: string
  /** PEM certificate chain and key: the API is served over HTTPS. */
  tls?: { cert: string | Buffer; key: string | Buffer } | undefined
  /** Failed authentications allowed per client address (default 30 a minute). */
  authThrottle?: AuthThrottleOptions | undefined
  /** When set, GET /metrics wants `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string | undefined
  /** Where the built operator console is (default: this package's dist/console). */
  consoleRoot?: string
}

/** 1 MiB: the largest body is a configuration file, far smaller. */
export const BODY_LIMIT = 1024 * 1024
/** How long one request the store could not serve keeps /readyz at 503. */
const STORE_FAILURE_HOLD_MS = 5_000
const CORRELATION_HEADER = 'x-correlation-id'
// ids from schedulers and other systems: UUIDs, Control-M order ids, W3C trace ids
const WELL_FORMED_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

/** The caller's correlation id when it is well formed (so it can be logged safely), else a new one. */
export function correlationIdOf(request: IncomingMessage): string {
  const given = request.headers[CORRELATION_HEADER]
  return typeof given === 'string' && WELL_FORMED_ID.test(given) ? given : randomUUID()
}

export function createHttpApp(deps: HttpDeps): FastifyInstance {
  // widened to Fastify's logger type so the instance is the plain FastifyInstance plugins expect
  const loggerInstance: FastifyBaseLogger = deps.logger
  // made after the app (they hook into it), but the URL-error handler and log controller need them now
  const late: { authenticator?: Authenticator; throttle?: AuthThrottle } = {}
  const app = fastify({
    loggerInstance,
    // request logs carry `correlationId`, the same name every other log line uses
    logController: new LogController({
      requestIdLogLabel: 'correlationId',
      // a throttled address's refusals are counted in one audit record, not logged per request
      disableRequestLogging: (request) => late.throttle?.isThrottled(request.ip) ?? false,
    }),
    genReqId: correlationIdOf,
    bodyLimit: BODY_LIMIT,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: urlErrorHandler({
      authenticator: () => late.authenticator ?? fail('the authenticator is not registered yet'),
      audit: deps.audit,
      db: deps.db,
    }),
    ...(deps.tls === undefined ? {} : { https: deps.tls }),
  })
  app.addHook('onRoute', (route) => {
    if (route.config?.action === undefined && route.method !== 'HEAD') {
      deps.logger.error(
        { method: route.method, url: route.url },
        'route declares no action: every request is refused',
      )
    }
  })
  registerStrictValidation(app, deps.logger)
  // before any route: the document is collected as they register
  registerOpenApi(app, { title: 'keyrotor', version: deps.version ?? '0.0.0' })

  app.decorateRequest('correlationId', {
    getter() {
      return this.id
    },
  })
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('X-Correlation-Id', request.id)
  })
  const throttle = registerAuthThrottle(app, deps.authThrottle)
  late.throttle = throttle
  late.authenticator = registerAuth(app, {
    tokens: deps.tokenStore(deps.db),
    audit: deps.audit,
    db: deps.db,
    throttle,
  })
  if (deps.metricsToken !== undefined) registerMetricsGuard(app, deps.metricsToken, throttle)
  registerSecurityHeaders(app, { tls: deps.tls !== undefined })
  // a store that failed a request keeps the instance not ready for a while, even where /readyz's
  // own small check passes (a damaged page it does not read)
  app.setErrorHandler(
    problemErrorHandlerWith((problem) => deps.readiness?.set('store', problem.detail, STORE_FAILURE_HOLD_MS)),
  )
  app.setNotFoundHandler((request) => {
    throw new KeyrotorError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)
  })

  // configuration uploads (YAML) arrive as text; JSON stays Fastify's own parser
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml'],
    { parseAs: 'string' },
    (_request, body, done) => done(null, body),
  )

  // every route plugin is listed in routes/index.ts; this is the one place they are registered
  const base = baseRoutes({ ...deps, openapi: () => app.swagger() as unknown as OpenApiDocument })
  for (const plugin of [...base, ...(deps.routes ?? [])]) void app.register(plugin)
  return app
}

function fail(message: string): never {
  throw new KeyrotorError('INTERNAL', message)
}
