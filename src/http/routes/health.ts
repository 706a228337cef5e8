import type { FastifyPluginAsync } from 'fastify'
import { sql, type Kysely } from 'kysely'
import type { AlertService } from '../../observability/alerts.js'
import type { Metrics } from '../../observability/metrics.js'
import type { OpenApiDocument } from '../openapi.js'
import type { HaltReader } from './halt.js'

export interface HealthDeps {
  /** True when the store answers; anything else (false, a throw, a hang) is "not ready". */
  ready(): Promise<boolean>
  metrics: Pick<Metrics, 'render' | 'contentType' | 'setAlertsOpen' | 'setHaltEngaged'>
  alerts: Pick<AlertService, 'openCount'>
  halt: HaltReader
  openapi(): OpenApiDocument
  /** How long /readyz waits for `ready()`; a load balancer's probe should not hang. */
  readyTimeoutMs?: number
}

/** The default readiness check: the store answers a trivial query. */
export function storeAnswers<DB>(db: Kysely<DB>): () => Promise<boolean> {
  return async () => {
    await sql`select 1`.execute(db)
    return true
  }
}

const STATUS = { type: 'object', required: ['status'], properties: { status: { type: 'string' } } }

/** Public probes, metrics and the API description: no token, so probes and scrapers need none. */
export function healthRoutes(deps: HealthDeps): FastifyPluginAsync {
  return async (app) => {
    const config = { action: 'public' } as const

    app.get('/healthz', { config, schema: { summary: 'Liveness', tags: ['health'] } }, async () => ({
      status: 'ok',
    }))

    app.get(
      '/readyz',
      {
        config,
        schema: {
          summary: 'Readiness: the store answers',
          tags: ['health'],
          response: { 200: STATUS, 503: STATUS },
        },
      },
      async (request, reply) => {
        const ready = await withTimeout(deps.ready(), deps.readyTimeoutMs ?? 2000).catch((error: unknown) => {
          request.log.warn({ err: error }, 'readiness check failed')
          return false
        })
        return ready ? { status: 'ready' } : reply.code(503).send({ status: 'not_ready' })
      },
    )

    app.get(
      '/metrics',
      { config, schema: { summary: 'Prometheus metrics', tags: ['health'] } },
      async (request, reply) => {
        // Refreshed from the store on every scrape: with several instances on one database, an
        // alert raised or a halt engaged by another instance never passed through this one.
        try {
          deps.metrics.setAlertsOpen(await deps.alerts.openCount())
          deps.metrics.setHaltEngaged((await deps.halt.read()).engaged)
        } catch (error) {
          request.log.warn({ err: error }, 'could not refresh gauges from the store; serving the last values')
        }
        return reply.type(deps.metrics.contentType).send(await deps.metrics.render())
      },
    )

    app.get('/openapi.json', { config, schema: { summary: 'This document', tags: ['health'] } }, async () =>
      deps.openapi(),
    )
  }
}

function withTimeout(promise: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
