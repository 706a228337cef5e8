import type { FastifyInstance, preValidationAsyncHookHandler, RouteOptions } from 'fastify'
import { KeyrotorError } from '../errors.js'
import type { Logger } from '../observability/logger.js'
import { zodSerializerCompiler, zodValidatorCompiler } from './zod-compilers.js'

/**
 * Every route declares its params, query, body and responses as zod schemas (src/http/schemas).
 * Bodies are strict objects: a field keyrotor does not understand is refused, not half-read, and
 * nothing is coerced ("1" stays a string, so `{"attempt": "3"}` is a 400). The URL parts, which
 * arrive as text, coerce where their schema says so.
 */
export function registerStrictValidation(app: FastifyInstance, logger: Pick<Logger, 'error'>): void {
  app.setValidatorCompiler(zodValidatorCompiler)
  app.setSerializerCompiler(zodSerializerCompiler(logger))
  app.addHook('onRoute', refuseBodyWhereNoneIsRead)
  app.addHook('preValidation', async (request) => {
    assertWellFormed(request.body, 'body')
    assertWellFormed(request.query, 'query')
  })
}

/**
 * A POST route that declares no body schema reads no JSON fields: one sent anyway is refused rather
 * than ignored (`{"force": true}` on a cancel must not look accepted). Text bodies (YAML) pass.
 */
function refuseBodyWhereNoneIsRead(route: RouteOptions): void {
  const methods = Array.isArray(route.method) ? route.method : [route.method]
  if (!methods.includes('POST') || route.schema?.body !== undefined) return
  const hooks = route.preValidation
  const refuseFields: preValidationAsyncHookHandler = async (request) => {
    const body: unknown = request.body
    if (body === null || typeof body !== 'object') return
    const field = Array.isArray(body) ? '0' : Object.keys(body)[0]
    if (field === undefined) return
    throw new KeyrotorError('BAD_REQUEST', `body ${field} is not a field of this request (it takes none)`, {
      details: { errors: [{ in: 'body', path: field, message: 'is not a field of this request' }] },
    })
  }
  route.preValidation = [...(hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]), refuseFields]
}

/**
 * Text that is not well-formed Unicode (a lone UTF-16 surrogate, as JSON's `\udc00` allows) cannot
 * be stored as it was given: UTF-8 has no encoding for it, so the store would keep something else
 * than what was hashed, signed or shown. BAD_REQUEST names the field.
 */
export function assertWellFormed(value: unknown, part: string, path = ''): void {
  if (typeof value === 'string') {
    if (!value.isWellFormed()) {
      const field = path === '' ? part : path
      throw new KeyrotorError('BAD_REQUEST', `${field}: text is not well-formed Unicode (a lone surrogate)`, {
        details: { errors: [{ in: part, path: field, message: 'is not well-formed Unicode' }] },
      })
    }
    return
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => assertWellFormed(item, part, join(path, String(index))))
    return
  }
  if (value !== null && typeof value === 'object') {
    for (const [name, item] of Object.entries(value)) {
      assertWellFormed(name, part, join(path, name))
      assertWellFormed(item, part, join(path, name))
    }
  }
}

function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`
}
