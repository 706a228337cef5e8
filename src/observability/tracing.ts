import {
  context,
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api'
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-node'

export interface TracingLog {
  warn(fields: Record<string, unknown>, message: string): void
}

/** Spans for keyrotor's own work; a no-op with no cost while tracing is off. */
export interface Tracing {
  readonly enabled: boolean
  /** Runs `fn` inside a new span (a child of the active one), ending it with fn's outcome. */
  span<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>, kind?: SpanKind): Promise<T>
  /** `traceparent` (and `tracestate`) of the active span, for a request to a dependent. */
  headers(): Record<string, string>
  /** The context a request's `traceparent` carries (HTTP server spans continue it). */
  extract(headers: Record<string, string | string[] | undefined>): Context
  /** trace_id and span_id of the active span, for log lines. */
  logFields(): { trace_id?: string; span_id?: string }
  tracer: Tracer
  /** Exports the spans ended so far (tests). */
  flush(): Promise<void>
  /** Exports what is queued (bounded by the exporter's timeout) and stops. */
  shutdown(): Promise<void>
}

const WARN_EVERY_MS = 60_000
const propagator = new W3CTraceContextPropagator()

/**
 * Tracing is on only when the standard OTEL_* variables ask for it: an OTLP endpoint is set,
 * and neither OTEL_SDK_DISABLED=true nor OTEL_TRACES_EXPORTER=none. The OTLP/HTTP exporter reads
 * its own OTEL_EXPORTER_OTLP_* settings (endpoint, headers, timeout); the batch processor keeps at
 * most OTEL_BSP_MAX_QUEUE_SIZE spans (default 2048) and drops the rest, so a dead collector costs
 * memory that is bounded and never a wait in a rotation.
 */
export function tracingWanted(env: Record<string, string | undefined>): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return false
  if (env.OTEL_TRACES_EXPORTER !== undefined && env.OTEL_TRACES_EXPORTER.split(',').includes('none'))
    return false
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
}

export function createTracing(options: {
  env: Record<string, string | undefined>
  version: string
  log: TracingLog
  /** Tests: an in-memory exporter, whatever the environment says. */
  exporter?: SpanExporter | undefined
  /** Told how many spans every failed export lost (the metrics counter). */
  onDropped?: ((spans: number) => void) | undefined
}): Tracing {
  const enabled = options.exporter !== undefined || tracingWanted(options.env)
  if (!enabled)
    return tracingWith(
      trace.getTracer('keyrotor'),
      false,
      async () => {},
      async () => {},
    )
  let lastWarned = -Infinity
  const { env } = options
  const exporter = withFailureWarnings(
    options.exporter ??
      new OTLPTraceExporter({
        url: tracesUrl(env),
        timeoutMillis:
          positive(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT) ?? 10_000,
      }),
    (spans, error) => {
      options.onDropped?.(spans)
      const now = Date.now()
      if (now - lastWarned < WARN_EVERY_MS) return
      lastWarned = now
      options.log.warn(
        { spans, error },
        'could not export spans; they are dropped (warned at most once a minute)',
      )
    },
  )
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.env.OTEL_SERVICE_NAME ?? 'keyrotor',
      'service.version': options.version,
    }),
    spanProcessors: [
      new BatchSpanProcessor(exporter, {
        maxQueueSize: positive(env.OTEL_BSP_MAX_QUEUE_SIZE) ?? 2048,
        scheduledDelayMillis: positive(env.OTEL_BSP_SCHEDULE_DELAY) ?? 5000,
        exportTimeoutMillis: positive(env.OTEL_BSP_EXPORT_TIMEOUT) ?? 10_000,
      }),
    ],
  })
  // the async-local-storage context manager: a span stays active across awaits
  provider.register({ propagator })
  return tracingWith(
    provider.getTracer('keyrotor', options.version),
    true,
    // stopping must not fail because the collector is gone: the warning already said so
    () => provider.shutdown().catch(() => undefined),
    // a failed export is reported by the warning, not by whoever asked for a flush
    () => provider.forceFlush().catch(() => undefined),
  )
}

/** OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces (the spec's rule). */
function tracesUrl(env: Record<string, string | undefined>): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined
}

function positive(value: string | undefined): number | undefined {
  const n = Number(value)
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : undefined
}

function tracingWith(
  tracer: Tracer,
  enabled: boolean,
  shutdown: () => Promise<void>,
  flush: () => Promise<void>,
): Tracing {
  return {
    enabled,
    tracer,
    shutdown,
    flush,
    span(name, attributes, fn, kind = SpanKind.INTERNAL) {
      if (!enabled) return fn(trace.wrapSpanContext(INVALID_SPAN_CONTEXT))
      return tracer.startActiveSpan(name, { attributes, kind }, async (span) => {
        try {
          return await fn(span)
        } catch (error) {
          span.recordException(error instanceof Error ? error : String(error))
          span.setStatus({
            code: SpanStatusCode.ERROR,
            message: error instanceof Error ? error.message : String(error),
          })
          throw error
        } finally {
          span.end()
        }
      })
    },
    headers() {
      const carrier: Record<string, string> = {}
      if (enabled) propagator.inject(context.active(), carrier, { set: (c, k, v) => (c[k] = v) })
      return carrier
    },
    extract(headers) {
      if (!enabled) return context.active()
      return propagator.extract(context.active(), headers, {
        get: (c, k) => c[k],
        keys: (c) => Object.keys(c),
      })
    },
    logFields() {
      const span = enabled ? trace.getActiveSpan() : undefined
      if (span === undefined) return {}
      const { traceId, spanId } = span.spanContext()
      return { trace_id: traceId, span_id: spanId }
    },
  }
}

/** Tells `onFailure` when an export fails (the spans are lost then: no retry queue beyond the batch). */
function withFailureWarnings(
  exporter: SpanExporter,
  onFailure: (spans: number, error: string) => void,
): SpanExporter {
  return {
    export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
      exporter.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS)
          onFailure(spans.length, result.error?.message ?? 'unknown error')
        done(result)
      })
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  }
}
