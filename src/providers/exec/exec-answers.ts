import { z } from 'zod'
import { KeyrotorError, type ErrorCode } from '../../errors.js'

// The documented answers of the exec protocol (CONTRACT.md § Key backends, exec). Extra fields
// are allowed (a hook may say more), missing or mistyped ones are a provider error.
const state = z.enum(['enabled', 'disabled', 'destroyed'])
const providerRef = z.string().min(1).max(1024)
const versionAnswer = z.object({
  version: z.number().int().positive(),
  state,
  providerRef,
  createdAt: z.string().optional(),
})
const jwk = z.looseObject({ kty: z.string() })

export const ANSWERS = {
  'create-version': versionAnswer,
  'describe-version': versionAnswer.nullable(),
  'set-version-state': versionAnswer,
  'list-versions': z.object({ versions: z.array(versionAnswer) }),
  'set-alias': z.object({ alias: z.string(), version: z.number().int().positive().nullable() }),
  'get-alias': z.object({ alias: z.string(), version: z.number().int().positive().nullable() }),
  'self-test': z.object({ passed: z.boolean(), detail: z.string() }),
  'public-jwk': z.object({ jwk: jwk.nullable() }),
  'export-material': z.object({ jwk }),
} as const

export type Operation = keyof typeof ANSWERS
export type AnswerOf<O extends Operation> = z.infer<(typeof ANSWERS)[O]>
export type VersionAnswer = z.infer<typeof versionAnswer>

/** The refusals a hook may answer with, exit 1 and `{"error": {code, message}}` on stdout. */
const REFUSAL_CODES = ['NOT_FOUND', 'MATERIAL_UNAVAILABLE', 'ILLEGAL_TRANSITION', 'CONFLICT'] as const
const refusal = z.object({
  error: z.object({ code: z.enum(REFUSAL_CODES), message: z.string().max(2000) }),
})

/** The hook's JSON answer to `operation`, checked against its documented shape. */
export function parseAnswer<O extends Operation>(operation: O, stdout: string): AnswerOf<O> {
  const json = parseJson(stdout)
  if (json === NOT_JSON) {
    // the output is not echoed: a confused hook might have printed material
    throw new KeyrotorError('PROVIDER_ERROR', `exec provider ${operation}: the hook printed no JSON document`)
  }
  const parsed = ANSWERS[operation].safeParse(json)
  if (!parsed.success) {
    const where = parsed.error.issues[0]
    const path = where === undefined || where.path.length === 0 ? 'the answer' : where.path.join('.')
    throw new KeyrotorError(
      'PROVIDER_ERROR',
      `exec provider ${operation}: the hook's answer is not the documented shape (${path}: ${where?.message ?? 'invalid'})`,
    )
  }
  return parsed.data as AnswerOf<O>
}

/** A refusal printed with exit 1, as our error; null when stdout holds none. */
export function parseRefusal(operation: Operation, stdout: string): KeyrotorError | null {
  const parsed = refusal.safeParse(parseJson(stdout))
  if (!parsed.success) return null
  const code: ErrorCode = parsed.data.error.code
  return new KeyrotorError(code, `exec provider ${operation}: ${parsed.data.error.message}`)
}

const NOT_JSON = Symbol('not JSON')

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return NOT_JSON
  }
}
