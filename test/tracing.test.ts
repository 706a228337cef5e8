import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import { Writable } from 'node:stream'
import { context, trace } from '@opentelemetry/api'
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-node'
import { createDependent } from '../src/dependent-sdk/index.js'
import { createTracing } from '../src/observability/tracing.js'
import { afterEach, describe, expect, it } from 'vitest'
import type { RunView } from '../src/engine/views.js'
import { freePort } from '../src/demo/free-port.js'
import { startHarness, waitForRun } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf, type PlannedDependent } from './helpers/sample-dependents.js'
import { call } from './helpers/http.js'
import { createServerFixture } from './helpers/harness.js'
import { DIALECTS } from './helpers/stores.js'

/**
 * A dependent that answers probes from the notices it received (staged → accepts, promoted →
 * active) and records the headers of every request, to see the traceparent keyrotor sends.
 */
async function startRecordingDependent(dep: PlannedDependent, key: string) {
  const requests: { path: string; headers: IncomingHttpHeaders }[] = []
  const accepts = new Set([1])
  let active = 1
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      requests.push({ path: req.url ?? '', headers: req.headers })
      if (req.method === 'POST') {
        const notice = JSON.parse(body) as { event: string; version: number }
        if (notice.event === 'key.version.staged') accepts.add(notice.version)
        if (notice.event === 'key.version.promoted') active = notice.version
        if (notice.event === 'key.version.revoked') accepts.delete(notice.version)
        res.writeHead(204).end()
        return
      }
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ key, accepts: [...accepts], active }))
    })
  })
  await new Promise<void>((resolve) => server.listen(dep.port, '127.0.0.1', resolve))
  return { requests, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

/** The 32-hex trace id and 16-hex parent span id of a `traceparent` header. */
function parentOf(traceparent: string | string[] | undefined): { traceId: string; spanId: string } {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(String(traceparent))
  expect(match, `traceparent "${String(traceparent)}"`).not.toBeNull()
  return { traceId: match![1]!, spanId: match![2]! }
}

describe.each(DIALECTS)('OpenTelemetry traces on %s', (dialect) => {
  const cleanups: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('traces a rotation: a run span, a span per phase, provider calls, probes and notices under them, traceparent to the dependent, ids in the logs', async () => {
    const dep = await planDependent('traced-api')
    const dependent = await startRecordingDependent(dep, 'payments-dek')
    cleanups.push(dependent.close)
    const exporter = new InMemorySpanExporter()
    const lines: string[] = []
    const logDestination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(
          ...chunk
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        )
        done()
      },
    })
    const h = await startHarness(
      dialect,
      `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [dep] })}`,
      {
        secrets: secretsOf([dep]),
        traceExporter: exporter,
        logDestination,
        logLevel: 'info',
      },
    )
    cleanups.push(() => h.stop())
    const started = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})
    const run = await waitForRun<RunView>(h, started.body.id)
    expect(run.state).toBe('succeeded')
    await h.keyrotor.tracing.flush() // the batch processor hands its spans to the exporter
    const spans = exporter.getFinishedSpans()

    const runSpan = spans.find((s) => s.name === 'run rotate' && s.attributes['keyrotor.run_id'] === run.id)
    expect(runSpan?.attributes).toMatchObject({
      'keyrotor.correlation_id': run.correlationId,
      'keyrotor.key': 'payments-dek',
    })
    const traceId = runSpan!.spanContext().traceId
    const inRun = spans.filter((s) => s.spanContext().traceId === traceId)
    const parentIs = (s: ReadableSpan) => s.parentSpanContext?.spanId
    const phases = inRun.filter((s) => s.name.startsWith('phase '))
    expect(phases.map((s) => s.attributes['keyrotor.phase'])).toEqual(
      expect.arrayContaining(['preflight', 'create', 'distribute', 'promote', 'confirm', 'validate']),
    )
    for (const phase of phases) expect(parentIs(phase)).toBe(runSpan!.spanContext().spanId)
    const phaseIds = new Set(phases.map((s) => s.spanContext().spanId))
    const create = inRun.find((s) => s.name === 'provider.createVersion')
    expect(create?.attributes).toMatchObject({
      'keyrotor.provider': 'local',
      'keyrotor.key': 'payments-dek',
      'keyrotor.version': 2,
    })
    for (const child of inRun.filter((s) => /^(provider|dependent)\./.test(s.name))) {
      expect(phaseIds.has(parentIs(child) ?? ''), `${child.name} under a phase`).toBe(true)
    }
    const notices = inRun.filter((s) => s.name === 'dependent.notice')
    expect(notices.map((s) => s.attributes['keyrotor.notice.event'])).toEqual(
      expect.arrayContaining(['key.version.staged', 'key.version.promoted']),
    )
    expect(inRun.some((s) => s.name === 'dependent.probe')).toBe(true)

    // every request the dependent got carries the trace and the span of its own probe or notice
    const clientSpans = new Set(
      inRun.filter((s) => s.name.startsWith('dependent.')).map((s) => s.spanContext().spanId),
    )
    const duringRun = dependent.requests.filter((r) => r.headers.traceparent !== undefined)
    expect(duringRun.length).toBeGreaterThan(0)
    for (const request of duringRun) {
      const parent = parentOf(request.headers.traceparent)
      expect(parent.traceId).toBe(traceId)
      expect(clientSpans.has(parent.spanId)).toBe(true)
    }

    // the API request has a server span
    const post = spans.find((s) => s.name === 'POST /v1/keys/:key/rotations')
    expect(post?.attributes).toMatchObject({
      'http.response.status_code': 201,
      'http.route': '/v1/keys/:key/rotations',
    })

    // log lines of the run carry its trace id
    const runLines = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.runId === run.id)
    expect(runLines.some((l) => l.trace_id === traceId && typeof l.span_id === 'string')).toBe(true)

    // nothing secret in any span
    const everything = JSON.stringify(
      spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })),
    )
    expect(everything).not.toContain(h.adminToken)
    expect(everything).not.toContain(dep.secret)
  })
})

describe('the dependent SDK', () => {
  it('continues the trace of a notice: its hooks run in the span that sent it, when the service runs OpenTelemetry', async () => {
    const tracing = createTracing({
      env: {},
      version: 'test',
      log: { warn: () => {} },
      exporter: new InMemorySpanExporter(),
    })
    let seen: { traceId: string; spanId: string } | undefined
    const dependent = createDependent({
      key: 'payments-dek',
      role: 'decrypt',
      materialSource: 'none',
      onStaged: () => {
        const span = trace.getSpanContext(context.active())
        seen = span === undefined ? undefined : { traceId: span.traceId, spanId: span.spanId }
      },
    })
    const listening = await dependent.listen()
    try {
      const sent = await tracing.span('dependent.notice', {}, async (span) => {
        const notice = {
          event: 'key.version.staged',
          key: 'payments-dek',
          version: 2,
          runId: 'run_1',
          correlationId: 'c-1',
          deadline: new Date(Date.now() + 60_000).toISOString(),
        }
        const response = await fetch(listening.notifyUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...tracing.headers() },
          body: JSON.stringify(notice),
        })
        expect(response.status).toBe(200)
        return span.spanContext()
      })
      expect(seen).toEqual({ traceId: sent.traceId, spanId: sent.spanId })
    } finally {
      await dependent.close()
      await tracing.shutdown()
    }
  })
})

describe('OpenTelemetry over OTLP/HTTP', () => {
  it('rotates as usual when the OTLP endpoint is dead, and warns once about the spans it drops', async () => {
    const dead = await freePort()
    const lines: string[] = []
    const logDestination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(
          ...chunk
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        )
        done()
      },
    })
    const h = await startHarness(
      'sqlite',
      `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [] })}`,
      {
        otelEnv: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${dead}`,
          OTEL_BSP_SCHEDULE_DELAY: '50',
          OTEL_EXPORTER_OTLP_TIMEOUT: '500',
        },
        logDestination,
        logLevel: 'info',
      },
    )
    try {
      expect(h.keyrotor.tracing.enabled).toBe(true)
      for (let i = 0; i < 2; i += 1) {
        const started = await h.api<RunView>('POST', '/v1/keys/payments-dek/rotations', {})
        expect((await waitForRun<RunView>(h, started.body.id)).state).toBe('succeeded')
        await h.keyrotor.tracing.flush()
      }
      const warnings = lines.filter((l) => l.includes('could not export spans'))
      expect(warnings).toHaveLength(1)
      expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 'warn', spans: expect.any(Number) })
      const metrics = await (await fetch(`${h.url}/metrics`)).text()
      const dropped = /^keyrotor_trace_spans_dropped_total (\d+)$/m.exec(metrics)
      expect(Number(dropped?.[1])).toBeGreaterThan(0)
    } finally {
      await h.stop()
    }
  })

  it("exports a rotation's spans to a real OTLP/HTTP JSON receiver, parent and child right, when only OTEL_* variables configure it", async () => {
    const received: unknown[] = []
    const receiver = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        if (req.url === '/v1/traces' && req.headers['content-type'] === 'application/json')
          received.push(JSON.parse(body))
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      })
    })
    const port = await freePort()
    await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve))
    const fixture = await createServerFixture(
      'sqlite',
      `keys:${keyYaml({ id: 'payments-dek', algorithm: 'aes-256-gcm', dependents: [] })}`,
    )
    try {
      const server = await fixture.start({
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
          OTEL_SERVICE_NAME: 'keyrotor-e2e',
          OTEL_BSP_SCHEDULE_DELAY: '100',
        },
      })
      const started = await call<RunView>(
        server.url,
        fixture.adminToken,
        'POST',
        '/v1/keys/payments-dek/rotations',
        {},
      )
      const run = (
        await call<RunView>(server.url, fixture.adminToken, 'GET', `/v1/runs/${started.body.id}?wait=30s`)
      ).body
      expect(run.state).toBe('succeeded')
      type OtlpSpan = {
        traceId: string
        spanId: string
        parentSpanId?: string
        name: string
        attributes: { key: string; value: { stringValue?: string } }[]
      }
      type Payload = {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] }
          scopeSpans: { spans: OtlpSpan[] }[]
        }[]
      }
      const spans = () =>
        (received as Payload[]).flatMap((p) =>
          p.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)),
        )
      const deadline = Date.now() + 20_000
      while (!spans().some((s) => s.name === 'run rotate') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100))
      const all = spans()
      const runSpan = all.find((s) => s.name === 'run rotate')
      expect(runSpan?.attributes).toContainEqual({
        key: 'keyrotor.correlation_id',
        value: { stringValue: run.correlationId },
      })
      const phases = all.filter((s) => s.traceId === runSpan!.traceId && s.name.startsWith('phase '))
      expect(phases.length).toBeGreaterThanOrEqual(5)
      for (const phase of phases) expect(phase.parentSpanId).toBe(runSpan!.spanId)
      const create = all.find((s) => s.traceId === runSpan!.traceId && s.name === 'provider.createVersion')
      expect(phases.map((p) => p.spanId)).toContain(create?.parentSpanId)
      const service = (received as Payload[])[0]!.resourceSpans[0]!.resource.attributes
      expect(service).toContainEqual({ key: 'service.name', value: { stringValue: 'keyrotor-e2e' } })
      expect(JSON.stringify(received)).not.toContain(fixture.adminToken)
    } finally {
      await fixture.dispose()
      await new Promise<void>((resolve) => receiver.close(() => resolve()))
    }
  })
})
