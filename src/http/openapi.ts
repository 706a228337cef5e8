import type { RouteOptions } from 'fastify'
import { PROBLEM_CONTENT_TYPE } from './problem.js'

/** Builds the OpenAPI document from the routes as they register, so it cannot drift from them. */
export interface OpenApiCollector {
  /** Install as the app's `onRoute` hook before any route registers. */
  onRoute(route: RouteOptions): void
  document(): OpenApiDocument
}

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> }

type JsonSchema = { properties?: Record<string, unknown>; required?: string[] } & Record<string, unknown>

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' }

export function createOpenApiCollector(info: { title: string; version: string }): OpenApiCollector {
  const paths: Record<string, Record<string, unknown>> = {}
  return {
    onRoute(route) {
      if (route.schema?.hide === true) return
      const methods = Array.isArray(route.method) ? route.method : [route.method]
      const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
      for (const method of methods) {
        // Fastify adds a HEAD twin for every GET; it says nothing new
        if (method === 'HEAD') continue
        paths[path] = { ...paths[path], [method.toLowerCase()]: operation(route) }
      }
    },
    document() {
      return {
        openapi: '3.1.0',
        info,
        paths,
        components: {
          securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
          schemas: { Problem: PROBLEM_SCHEMA },
        },
      }
    },
  }
}

function operation(route: RouteOptions): Record<string, unknown> {
  const schema = route.schema ?? {}
  const action = route.config?.action
  const parameters = [
    ...parametersOf(schema.params as JsonSchema | undefined, 'path'),
    ...parametersOf(schema.querystring as JsonSchema | undefined, 'query'),
  ]
  return {
    ...(schema.summary === undefined ? {} : { summary: schema.summary }),
    ...(schema.description === undefined ? {} : { description: schema.description }),
    ...(schema.tags === undefined ? {} : { tags: schema.tags }),
    // the permission a token's role needs; 'public' routes take no token
    'x-keyrotor-action': action ?? null,
    security: action === 'public' ? [] : [{ bearer: [] }],
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(schema.body === undefined
      ? {}
      : { requestBody: { required: true, content: { 'application/json': { schema: schema.body } } } }),
    responses: responsesOf(schema.response as Record<string, unknown> | undefined),
  }
}

function parametersOf(schema: JsonSchema | undefined, where: 'path' | 'query'): Record<string, unknown>[] {
  return Object.entries(schema?.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (schema?.required ?? []).includes(name),
    schema: property,
  }))
}

function responsesOf(response: Record<string, unknown> | undefined): Record<string, unknown> {
  const responses: Record<string, unknown> = {}
  for (const [status, schema] of Object.entries(response ?? { 200: {} })) {
    responses[status] = { description: `${status} response`, content: { 'application/json': { schema } } }
  }
  responses.default = {
    description: 'an error',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } },
  }
  return responses
}

const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code', 'correlationId'],
  properties: {
    type: { type: 'string', format: 'uri' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    correlationId: { type: 'string' },
  },
}
