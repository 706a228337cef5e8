import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Tracing } from '../observability/tracing.js'

/**
 * An HTTP server span per API request, continuing the caller's `traceparent`. Attributes are the
 * method, route template, status and correlation id: never headers (tokens), query or body.
 */
export function traceRequests(
  app: FastifyInstance,
  tracing: Pick<Tracing, 'enabled' | 'tracer' | 'extract'>,
): void {
  if (!tracing.enabled) return
  const spans = new WeakMap<FastifyRequest, Span>()
  app.addHook('onRequest', async (request) => {
    const route = request.routeOptions.url ?? 'unmatched'
    const span = tracing.tracer.startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'http.route': route,
          'keyrotor.correlation_id': request.id,
        },
      },
      tracing.extract(request.headers),
    )
    spans.set(request, span)
  })
  app.addHook('onResponse', async (request, reply) => {
    const span = spans.get(request)
    if (span === undefined) return
    span.setAttribute('http.response.status_code', reply.statusCode)
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
    span.end()
  })
}
