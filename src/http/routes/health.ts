import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { sql, type Kysely } from 'kysely'
import type { AlertService } from '../../observability/alerts.js'
import type { Metrics } from '../../observability/metrics.js'
import type { Readiness } from '../../observability/readiness.js'
import type { OpenApiDocument } from '../openapi.js'
import { problems, textResponse } from '../schemas/common.js'
import { HealthStatus, ReadyStatus } from '../schemas/observability.js'
import { storeFailureIn, storeUnavailable } from '../../store/store-errors.js'
import type { HaltReader } from './halt.js'

export interface HealthDeps {
  /** True when the store answers; anything else (false, a throw, a hang) is "not ready". */
  ready(): Promise<boolean>
  metrics: Pick<Metrics, 'render' | 'contentType' | 'setAlertsOpen' | 'setHaltEngaged'>
  alerts: Pick<AlertService, 'openCount'>
  halt: HaltReader
  openapi(): OpenApiDocument
  /** Other conditions that make the instance not ready (log lines dropped, recent store failures). */
  readiness?: Pick<Readiness, 'reasons'> | undefined
  /** How long /readyz waits for `ready()`; a load balancer's probe should not hang. */
  readyTimeoutMs?: number
}

/**
 * The default readiness check: the store reads the tables every request needs and commits a
 * write. `select 1` alone answers from a database whose pages are damaged or whose disk is full.
 * The write changes nothing (Kysely's migration lock row, rewritten as it is) but still goes
 * through the journal and the disk like any commit.
 */
export function storeAnswers<DB>(db: Kysely<DB>): () => Promise<boolean> {
  return async () => {
    for (const table of ['tokens', 'keys', 'key_versions', 'runs', 'halt'])
      await sql`select * from ${sql.table(table)} limit 1`.execute(db)
    await sql`select seq from audit_events order by seq desc limit 1`.execute(db)
    await sql`update keyrotor_migration_lock set is_locked = is_locked where id = 'migration_lock'`.execute(
      db,
    )
    return true
  }
}

/** Public probes, metrics and the API description: no token, so probes and scrapers need none. */
export function healthRoutes(deps: HealthDeps): FastifyPluginAsync {
  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    const config = { action: 'public' } as const

    app.get(
      '/healthz',
      {
        config,
        schema: {
          summary: 'Liveness',
          tags: ['health'],
          operationId: 'healthz',
          response: { 200: HealthStatus },
        },
      },
      async () => ({ status: 'ok' as const }),
    )

    app.get(
      '/readyz',
      {
        config,
        schema: {
          summary: 'Readiness: the store answers',
          tags: ['health'],
          operationId: 'readyz',
          response: { 200: ReadyStatus, 503: ReadyStatus.describe('Not ready: `reasons` says why') },
        },
      },
      async (request, reply) => {
        const reasons: string[] = []
        const ready = await withTimeout(deps.ready(), deps.readyTimeoutMs ?? 2000).catch((error: unknown) => {
          request.log.warn({ err: error }, 'readiness check failed')
          reasons.push(`store: ${storeReason(error)}`)
          return false
        })
        if (!ready && reasons.length === 0) reasons.push('store: not ready')
        reasons.push(...(deps.readiness?.reasons() ?? []))
        return reasons.length === 0
          ? { status: 'ready' as const }
          : reply.code(503).send({ status: 'not_ready' as const, reasons })
      },
    )

    app.get(
      '/metrics',
      {
        config,
        schema: {
          summary: 'Prometheus metrics (text exposition format)',
          tags: ['health'],
          operationId: 'metrics',
          response: {
            200: textResponse('The metrics', 'text/plain'),
            ...problems(401, 429),
          },
        },
      },
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

    app.get(
      '/openapi.json',
      {
        config,
        schema: {
          summary: 'This document (OpenAPI 3.1)',
          tags: ['health'],
          operationId: 'openapi',
          response: { 200: z.record(z.string(), z.unknown()).describe('An OpenAPI 3.1 document') },
        },
      },
      async () => deps.openapi(),
    )
  }
}

/** What an operator needs from a failed check: the condition, never a query. */
function storeReason(error: unknown): string {
  const unavailable = storeFailureIn(error)
  if (unavailable !== undefined) return storeUnavailable(unavailable).message
  return error instanceof Error ? (error.message.split('\n')[0] ?? 'error') : String(error)
}

function withTimeout(promise: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
