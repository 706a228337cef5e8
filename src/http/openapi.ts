import fastifySwagger from '@fastify/swagger'
import type { FastifyInstance, RouteOptions } from 'fastify'
import { createJsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'
import { problemResponse } from './schemas/common.js'

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> }

/** Statuses any route with a token may answer, whatever it does: documented on every such operation. */
const AUTHENTICATED_ERRORS = [401, 403, 429] as const
/** Statuses any route may answer: an internal error, and a store that cannot serve now. */
const SERVER_ERRORS = [500, 503] as const

/**
 * Registers @fastify/swagger so that /openapi.json is written from the routes' own zod schemas
 * (src/http/schemas). Each operation also gets its `operationId` (from the route's `schema`),
 * the permission it needs as `x-keyrotor-action`, its security, and the error answers every route
 * shares. Call before any route registers: the document is collected as they do.
 */
export function registerOpenApi(app: FastifyInstance, info: { title: string; version: string }): void {
  const zodTransform = createJsonSchemaTransform({ skipList: [] })
  void app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        ...info,
        description:
          'Key rotation orchestrator. Every error is RFC 9457 problem+json with a keyrotor `code` ' +
          '(docs/errors.md). Tokens are Bearer tokens (`keyrotor token create`).',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      // relative: the document is served by the server it describes, wherever that is
      servers: [{ url: '/', description: 'the keyrotor server serving this document' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      tags: TAGS,
    },
    // Fastify adds a HEAD twin for every GET; it says nothing new
    exposeHeadRoutes: false,
    transform: (input) => {
      const { schema, url } = zodTransform({
        ...input,
        schema: { ...input.schema, ...operationExtras(input.route, input.schema?.response) },
      })
      // the provider drops empty members; a route without an action must still show as null
      return { schema: { ...schema, 'x-keyrotor-action': input.route.config?.action ?? null }, url }
    },
    transformObject: (input) => withoutUnusedSchemas(jsonSchemaTransformObject(input) as OpenApiDocument),
  })
}

function operationExtras(route: RouteOptions, response: unknown): Record<string, unknown> {
  const action = route.config?.action
  const shared = [...(action === 'public' ? [] : AUTHENTICATED_ERRORS), ...SERVER_ERRORS]
  const declared = (response ?? {}) as Record<string, unknown>
  const errors = Object.fromEntries(
    shared.filter((status) => declared[status] === undefined).map((s) => [s, problemResponse(s)]),
  )
  return {
    // the permission a token's role needs; 'public' routes take no token
    'x-keyrotor-action': action ?? null,
    security: action === 'public' ? [] : [{ bearer: [] }],
    response: { ...declared, ...errors },
  }
}

/**
 * The provider registers every named schema twice, as read (input) and as written (output); only
 * the ones an operation refers to belong in the document.
 */
function withoutUnusedSchemas(document: OpenApiDocument): OpenApiDocument {
  const components = document.components as { schemas?: Record<string, unknown> } | undefined
  const schemas = components?.schemas
  if (schemas === undefined) return document
  const text = JSON.stringify({ ...document, components: { ...components, schemas: {} } })
  const used = new Set<string>()
  let added = true
  // schemas refer to schemas: keep the closure of what the operations use
  while (added) {
    added = false
    const haystack = text + JSON.stringify([...used].map((name) => schemas[name]))
    for (const name of Object.keys(schemas)) {
      if (!used.has(name) && haystack.includes(`"#/components/schemas/${name}"`)) {
        used.add(name)
        added = true
      }
    }
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)))
  return { ...document, components: { ...components, schemas: kept } }
}

const TAGS = [
  { name: 'keys', description: 'Keys, their versions, dependents and verification' },
  { name: 'runs', description: 'Rotations and other runs: start, follow, recover' },
  { name: 'material', description: 'Public keys and material that dependents load' },
  { name: 'schedule', description: 'The built-in rotation schedule' },
  { name: 'config', description: 'The active configuration and its change management' },
  { name: 'approvals', description: 'Four-eyes approvals' },
  { name: 'halt', description: 'The global halt' },
  { name: 'alerts', description: 'Alerts raised by the engine' },
  { name: 'incidents', description: 'Incidents and their root cause analyses' },
  { name: 'timeline', description: 'Everything recorded under one correlation id' },
  { name: 'audit', description: 'The hash-chained audit log' },
  { name: 'tokens', description: 'API tokens and the caller’s session' },
  { name: 'health', description: 'Probes, metrics and this document' },
]
