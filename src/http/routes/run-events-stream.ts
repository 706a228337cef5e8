import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { isTerminal } from '../../domain/runs.js'
import { listRunEvents } from '../../store/events-repository.js'
import { findRun } from '../../store/runs-repository.js'
import type { Database } from '../../store/tables.js'

export interface RunEventStreamOptions {
  /** How often an open stream looks for new journal entries. */
  pollMs?: number | undefined
  /** How often an idle stream sends a comment, so proxies and clients see it is alive. */
  heartbeatMs?: number | undefined
}

/** Whether the request asks for Server-Sent Events rather than a JSON page. */
export function wantsEventStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/event-stream')
}

/**
 * Server-Sent Events of one run's journal. Each open stream polls the store: simple, and it sees
 * the events of a run that another instance executes, which an in-process notifier would not.
 * The stream ends with `event: end` once the run is terminal and every event before that was sent;
 * a reconnect after that is answered 204 No Content, which tells an EventSource to stop.
 */
export function createRunEventStreams(db: Kysely<Database>, options: RunEventStreamOptions = {}) {
  const pollMs = options.pollMs ?? 150
  const heartbeatMs = options.heartbeatMs ?? 15_000
  const open = new Set<() => void>()

  async function stream(request: FastifyRequest, reply: FastifyReply, runId: string, after: number) {
    // A reconnect after `event: end` (an EventSource that was not closed) would otherwise get the
    // `end` again and reconnect every second for ever; 204 is the standard "stop reconnecting".
    if (after > 0 && (await finishedAndAllSent(runId, after))) return reply.code(204).send()
    reply.hijack()
    const res = reply.raw
    const given = Object.entries(reply.getHeaders()).filter(([, value]) => value !== undefined)
    res.writeHead(200, {
      // what the hooks set already (X-Correlation-Id)
      ...(Object.fromEntries(given) as Record<string, string | number | string[]>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      // nginx and the like would otherwise hold the events back in a buffer
      'x-accel-buffering': 'no',
    })
    let closed = false
    let wake = () => {}
    const stop = () => {
      closed = true
      wake()
    }
    // the response's close, not the request's: a GET request "closes" as soon as it is read
    res.once('close', stop)
    open.add(stop)
    let cursor = after
    let lastWrite = Date.now()
    try {
      await write(res, 'retry: 1000\n\n')
      while (!closed) {
        // state first, events second: once the state is terminal, the events read hold them all
        const run = await findRun(db, runId)
        for (;;) {
          const events = await listRunEvents(db, runId, cursor)
          for (const event of events) {
            await write(res, `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`)
            cursor = event.id
            lastWrite = Date.now()
          }
          if (events.length === 0 || closed) break
        }
        if (run === undefined || isTerminal(run.state)) {
          const end = { runId, state: run?.state ?? null, cursor }
          await write(res, `event: end\ndata: ${JSON.stringify(end)}\n\n`)
          break
        }
        if (Date.now() - lastWrite >= heartbeatMs) {
          await write(res, ': heartbeat\n\n')
          lastWrite = Date.now()
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs)
          wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
      }
    } catch (error) {
      // the store went away (shutdown) or the socket broke: the client reconnects with its cursor
      if (!closed) request.log.warn({ err: error, runId }, 'run event stream stopped')
    } finally {
      open.delete(stop)
      res.off('close', stop)
      res.end()
    }
  }

  async function finishedAndAllSent(runId: string, after: number): Promise<boolean> {
    const run = await findRun(db, runId)
    if (run !== undefined && !isTerminal(run.state)) return false
    return (await listRunEvents(db, runId, after)).length === 0
  }

  return {
    stream,
    /** Ends every open stream: a server that closes must not wait for clients to hang up. */
    closeAll(): void {
      for (const stop of open) stop()
    },
  }
}

/** Writes one chunk, waiting out backpressure unless the client has gone. */
async function write(res: ServerResponse, chunk: string): Promise<void> {
  if (res.destroyed) throw new Error('the client went away')
  if (res.write(chunk)) return
  await new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.once('drain', done)
    res.once('close', done)
  })
}
