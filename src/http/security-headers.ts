import helmet from '@fastify/helmet'
import type { FastifyInstance } from 'fastify'

/**
 * Browser-facing hardening with @fastify/helmet. The CSP suits the operator console to come: its
 * own scripts, styles and API only (it must fetch nothing from another origin, CONTRACT "Operator
 * console"), never framed. HSTS and upgrade-insecure-requests only when keyrotor serves TLS itself:
 * on plain HTTP they would point browsers at an https:// that does not answer.
 */
export function registerSecurityHeaders(app: FastifyInstance, options: { tls: boolean }): void {
  void app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        ...(options.tls ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    strictTransportSecurity: options.tls ? { maxAge: 31_536_000 } : false,
  })
  // Tokens (POST /v1/tokens) and key material are in API answers, and so is everything a
  // browser or proxy should not keep: nothing under /v1 is stored unless its route says otherwise
  // (the JWKS sets its own public max-age).
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.url.startsWith('/v1/') && !reply.hasHeader('cache-control')) {
      void reply.header('Cache-Control', 'no-store')
    }
    return payload
  })
}
