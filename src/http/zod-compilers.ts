import type { FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify'
import { $ZodType, safeEncode, safeParse, type $ZodIssue } from 'zod/v4/core'
import { KeyrotorError } from '../errors.js'
import type { Logger } from '../observability/logger.js'

/** A validation failure in the shape problem.ts names fields from (Ajv's, which Fastify expects). */
export interface FieldIssue {
  keyword: string
  instancePath: string
  schemaPath: string
  params: Record<string, unknown>
  message: string
}

/**
 * Validates params, query, body and headers with the route's zod schemas. Bodies are declared with
 * `z.strictObject`, so an unknown field is refused, and with plain types, so nothing is coerced; the
 * URL parts use `z.coerce` where a number arrives as text.
 */
export const zodValidatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, method, url, httpPart }) => {
  const zod = asZod(schema, `${method} ${url} ${httpPart ?? ''}`)
  return (data: unknown) => {
    const result = safeParse(zod, data)
    if (!result.success) return { error: result.error.issues.flatMap(fieldIssues) }
    // headers are read whole by hooks and handlers: validated, never replaced by a stripped copy
    return { value: httpPart === 'headers' ? data : result.data }
  }
}

/** One entry per field: an issue for unknown keys names each of them. */
export function fieldIssues(issue: $ZodIssue): FieldIssue[] {
  const base = issue.path.map(String).join('/')
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      keyword: 'additionalProperties',
      instancePath: base === '' ? '' : `/${base}`,
      schemaPath: '#',
      params: { additionalProperty: key },
      message: 'is not a field of this request',
    }))
  }
  const missing = issue.code === 'invalid_type' && issue.input === undefined
  return [
    {
      keyword: issue.code,
      instancePath: base === '' ? '' : `/${base}`,
      schemaPath: '#',
      params: {},
      message: missing ? 'is required' : issue.message,
    },
  ]
}

/**
 * Writes responses as their schema declares them: the encoded value drops fields the document
 * does not show (nothing internal leaks by accident). A value outside its schema is a bug in
 * keyrotor, not in the request: it is logged (paths and codes, never values) and sent as it is,
 * so the caller still learns what happened; the end-to-end suites fail on it (test/helpers).
 */
export function zodSerializerCompiler(logger: Pick<Logger, 'error'>): FastifySerializerCompiler<unknown> {
  return ({ schema, method, url, httpStatus }) => {
    const zod = schema instanceof $ZodType ? schema : undefined
    if (zod === undefined) return (data) => JSON.stringify(data)
    return (data) => {
      const result = safeEncode(zod, data)
      if (result.success) return JSON.stringify(result.data)
      logger.error(
        {
          method,
          url,
          status: httpStatus,
          issues: result.error.issues.map((i) => ({ path: i.path.join('.'), code: i.code })),
        },
        'a response does not match its documented schema',
      )
      return JSON.stringify(data)
    }
  }
}

function asZod(schema: unknown, where: string): $ZodType {
  if (schema instanceof $ZodType) return schema
  throw new KeyrotorError(
    'INTERNAL',
    `${where}: the schema is not a zod schema (declare it in src/http/schemas)`,
  )
}
