import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { Kysely } from 'kysely'
import { isTerminal } from '../../domain/runs.js'
import { parseDuration } from '../../domain/duration.js'
import type { RunControl } from '../../engine/runs/run-control.js'
import type { VerifyService } from '../../engine/verify/verify-service.js'
import { runView } from '../../engine/views.js'
import { KeyrotorError } from '../../errors.js'
import { listRunEvents } from '../../store/events-repository.js'
import { findRun, listRuns } from '../../store/runs-repository.js'
import type { Database, RunRow } from '../../store/tables.js'
import { principalOf } from '../auth.js'
import { sendPage } from '../paging.js'
import { problems } from '../schemas/common.js'
import {
  MAX_EVENT_ID,
  Run,
  RunEventsPage,
  RunEventsQuery,
  RunParams,
  RunQuery,
  RunsQuery,
  RunVerification,
} from '../schemas/runs.js'
import { createRunEventStreams, wantsEventStream, type RunEventStreamOptions } from './run-events-stream.js'

export interface RunRoutesDeps {
  db: Kysely<Database>
  verify: Pick<VerifyService, 'verifyRun'>
  control: RunControl
  /** How often a long-poll looks at the run again. */
  pollMs?: number
  /** Polling and heartbeat of the events route's Server-Sent Events. */
  stream?: RunEventStreamOptions
}

/** The longest a client may hold a long-poll open; schedulers poll again after it. */
const MAX_WAIT_MS = 60_000

/**
 * Runs: list, one (with a long-poll), its journal as events after a cursor, and the failure
 * playbook's actions on one run: verify, retry, cancel.
 */
export function runRoutes(deps: RunRoutesDeps): FastifyPluginAsync {
  const pollMs = deps.pollMs ?? 100
  const streams = createRunEventStreams(deps.db, deps.stream)

  async function requireRun(id: string): Promise<RunRow> {
    const run = await findRun(deps.db, id)
    if (run === undefined) throw new KeyrotorError('NOT_FOUND', `unknown run ${id}`)
    return run
  }

  return async (plain) => {
    const app = plain.withTypeProvider<ZodTypeProvider>()
    app.addHook('preClose', async () => streams.closeAll())

    app.get(
      '/v1/runs',
      {
        config: { action: 'runs.read' },
        schema: {
          summary: 'List runs, newest first: 100 unless `limit` says; page on with `cursor`',
          tags: ['runs'],
          operationId: 'listRuns',
          querystring: RunsQuery,
          response: { 200: z.array(Run), ...problems(400) },
        },
      },
      async (request, reply) => {
        const page = await listRuns(deps.db, request.query)
        return sendPage(request, reply, { ...page, items: page.items.map(runView) })
      },
    )

    app.get(
      '/v1/runs/:id',
      {
        config: { action: 'runs.read' },
        schema: {
          summary: 'One run; with ?wait=30s, held until the run ends or the wait elapses',
          tags: ['runs'],
          operationId: 'getRun',
          params: RunParams,
          querystring: RunQuery,
          response: { 200: Run, ...problems(400, 404) },
        },
      },
      async (request) => {
        let run = await requireRun(request.params.id)
        const waitMs =
          request.query.wait === undefined ? 0 : Math.min(parseWait(request.query.wait), MAX_WAIT_MS)
        const until = Date.now() + waitMs
        while (!isTerminal(run.state) && Date.now() < until && !request.raw.destroyed) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, until - Date.now())))
          run = await requireRun(request.params.id)
        }
        return runView(run)
      },
    )

    app.get(
      '/v1/runs/:id/events',
      {
        config: { action: 'runs.read' },
        schema: {
          summary:
            "A run's journal after a cursor (an event id); pass the returned cursor back. With `Accept: text/event-stream`, Server-Sent Events until the run ends (resumes after `Last-Event-ID`)",
          tags: ['runs'],
          operationId: 'listRunEvents',
          params: RunParams,
          querystring: RunEventsQuery,
          response: {
            200: {
              description:
                'A page of the journal, or with `Accept: text/event-stream` the events as they come',
              content: {
                'application/json': { schema: RunEventsPage },
                'text/event-stream': {
                  schema: z.string().describe('`event: run-event` per entry, then `event: end`'),
                },
              },
            },
            204: z.null().describe('A reconnect after the stream ended: every event was sent; stop'),
            ...problems(400, 404),
          },
        },
      },
      async (request, reply) => {
        await requireRun(request.params.id)
        const after = request.query.after ?? 0
        if (wantsEventStream(request)) {
          const resumeAt = lastEventId(request.headers['last-event-id'])
          return streams.stream(request, reply, request.params.id, resumeAt ?? after)
        }
        const events = await listRunEvents(deps.db, request.params.id, after)
        return { events, cursor: events.at(-1)?.id ?? after }
      },
    )

    // the CLI renders the answer as a run; the verification's outcome rides along with it
    app.post(
      '/v1/runs/:id/verify',
      {
        config: { action: 'runs.verify' },
        schema: {
          summary: "Check the run's key against provider and dependents (recorded; a retry needs a pass)",
          tags: ['runs'],
          operationId: 'verifyRun',
          params: RunParams,
          response: { 200: RunVerification, ...problems(400, 404, 409, 502, 503) },
        },
      },
      async (request) => {
        const result = await deps.verify.verifyRun(request.params.id, principalOf(request).user)
        return { ...runView(await requireRun(request.params.id)), ...result }
      },
    )

    app.post(
      '/v1/runs/:id/retry',
      {
        config: { action: 'runs.retry' },
        schema: {
          summary: 'Queue a failed run again from its failed phase; 409 NOT_VERIFIED until a verify passed',
          tags: ['runs'],
          operationId: 'retryRun',
          params: RunParams,
          response: { 200: Run, ...problems(400, 404, 409, 423) },
        },
      },
      async (request) => runView(await deps.control.retry(request.params.id, principalOf(request).user)),
    )

    app.post(
      '/v1/runs/:id/cancel',
      {
        config: { action: 'runs.cancel' },
        schema: {
          summary: 'Cancel a queued run (200), or ask a running one to stop before promote (202)',
          tags: ['runs'],
          operationId: 'cancelRun',
          params: RunParams,
          response: {
            200: Run.describe('the run, cancelled'),
            202: Run.describe('the run, asked to stop before promote'),
            ...problems(400, 404, 409),
          },
        },
      },
      async (request, reply) => {
        const { run, outcome } = await deps.control.cancel(request.params.id, principalOf(request).user)
        return reply.code(outcome === 'cancelled' ? 200 : 202).send(runView(run))
      },
    )
  }
}

/** An EventSource sends back the last `id:` it saw; it wins over `?after=` (the first connect's). */
function lastEventId(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined
  const text = Array.isArray(header) ? header[0] : header
  if (text === undefined || !/^\d{1,10}$/.test(text) || Number(text) > MAX_EVENT_ID) {
    throw new KeyrotorError('BAD_REQUEST', `Last-Event-ID: "${String(text)}" is not an event id`)
  }
  return Number(text)
}

function parseWait(text: string): number {
  try {
    return parseDuration(text)
  } catch {
    throw new KeyrotorError('BAD_REQUEST', `wait: "${text}" is not a duration (use e.g. 30s)`)
  }
}
