import { AjvCompiler, type RouteDefinition } from '@fastify/ajv-compiler'
import type {
  FastifyInstance,
  FastifySchemaCompiler,
  preValidationAsyncHookHandler,
  RouteOptions,
} from 'fastify'
import { KeyrotorError } from '../errors.js'

/**
 * Fastify's Ajv defaults drop unknown fields and coerce types ("1" becomes 1, `{"expires_in"}`
 * silently vanishes): fine for a query string, where everything arrives as text, but a body that
 * says something keyrotor does not understand must be refused, not half-read. So bodies are
 * validated strictly, and the URL parts keep the coercion they need.
 */
export function registerStrictValidation(app: FastifyInstance): void {
  const factory = AjvCompiler()
  const strict = factory(
    {},
    { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
  )
  const lenient = factory({}, { customOptions: {} })
  const compiler: FastifySchemaCompiler<RouteDefinition['schema']> = (route) =>
    route.httpPart === 'body' ? strict(route) : lenient(route)
  app.setValidatorCompiler(compiler)
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
