import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'

// ajv-formats is CommonJS: its default export is the function
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020

interface Operation {
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>
}
type Document = { paths: Record<string, Record<string, Operation>> } & Record<string, unknown>

/** What a suite saw: enough to find its documented schema. */
export interface SeenResponse {
  method: string
  /** The path as requested, query included. */
  path: string
  status: number
  contentType: string | null
  /** The parsed JSON body (or the text, for other media types); null when there was none. */
  body: unknown
}

/**
 * Checks responses against the server's own /openapi.json with Ajv (JSON Schema 2020-12, what
 * OpenAPI 3.1 uses): the status must be documented for the operation, the media type listed for
 * that status, and a JSON body valid against its schema. The end-to-end suites call it on every
 * response they receive (harness.ts), so an answer outside the document fails the test.
 */
export interface ResponseChecker {
  /** A sentence naming each way the response leaves the document; empty when it fits. */
  problemsWith(response: SeenResponse): string[]
}

export async function responseCheckerFor(baseUrl: string): Promise<ResponseChecker> {
  const doc = (await (await fetch(`${baseUrl}/openapi.json`)).json()) as Document
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }))
  ajv.addSchema(doc, 'openapi.json')
  const routes = Object.keys(doc.paths).map((template) => ({
    template,
    pattern: new RegExp(
      `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`,
    ),
  }))
  const compiled = new Map<string, ValidateFunction>()

  function validatorFor(pointer: string): ValidateFunction {
    let validate = compiled.get(pointer)
    if (validate === undefined) {
      validate = ajv.compile({ $ref: `openapi.json#${pointer}` })
      compiled.set(pointer, validate)
    }
    return validate
  }

  return {
    problemsWith(response) {
      const path = decodeURI(response.path.split('?')[0] ?? '')
      // HEAD answers as its GET twin does, without the body
      const method = response.method.toLowerCase() === 'head' ? 'get' : response.method.toLowerCase()
      const where = `${response.method} ${response.path} → ${response.status}`
      const route = routes.find((r) => r.pattern.test(path) && doc.paths[r.template]?.[method] !== undefined)
      // the catch-all 404 of an unknown route: documented by no operation, and that is right
      if (route === undefined) return response.status === 404 ? [] : [`${where}: no documented operation`]
      const responses = doc.paths[route.template]?.[method]?.responses ?? {}
      const status = String(response.status)
      const key = [status, `${status[0]}XX`, 'default'].find((k) => responses[k] !== undefined)
      if (key === undefined) return [`${where}: status not documented for ${route.template}`]
      const content = responses[key]?.content
      if (content === undefined) {
        return response.body === null ? [] : [`${where}: documented without a body, but one came`]
      }
      const media = (response.contentType ?? '').split(';')[0]?.trim() ?? ''
      if (content[media] === undefined) {
        return [`${where}: media type "${media}" not documented (${Object.keys(content).join(', ')})`]
      }
      if (!media.endsWith('json')) return []
      const pointer = ['paths', route.template, method, 'responses', key, 'content', media, 'schema']
        .map((part) => part.replaceAll('~', '~0').replaceAll('/', '~1'))
        .join('/')
      const validate = validatorFor(`/${pointer}`)
      if (validate(response.body)) return []
      return (validate.errors ?? []).map(
        (e) => `${where}: body${e.instancePath} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`,
      )
    },
  }
}
