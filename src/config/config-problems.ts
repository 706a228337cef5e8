import type { z } from 'zod'
import { CONFIGURABLE_PROVIDER_TYPES } from './provider-settings.js'
import { INCIDENT_SINK_TYPES } from './ticket-sinks-schema.js'

/** One thing wrong with a configuration: where (a path into the document) and what. */
export interface ConfigProblem {
  path: readonly PropertyKey[]
  message: string
}

/** `keys[0].policy.gracePeriod`: numbers in brackets, names dotted; names that are not identifiers quoted. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = ''
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`
    else {
      const name = String(part)
      if (/^[A-Za-z_$][\w$-]*$/.test(name)) text += text === '' ? name : `.${name}`
      else text += `[${JSON.stringify(name)}]`
    }
  }
  return text === '' ? '(top level)' : text
}

/** The lines of an INVALID_CONFIG message: `<source>: <path>: <problem>`, one per problem. */
export function formatProblems(source: string, problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${source}: ${formatPath(p.path)}: ${p.message}`).join('\n')
}

/**
 * Turns zod's issues into problems a person editing YAML understands: "unknown field", "is
 * required", "must be one of …" with the value that was given. Zod's own wording is kept where it
 * already reads well (our schema's custom messages).
 */
export function problemsFromZod(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const issue of issues) {
    const path = issue.path
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) problems.push({ path: [...path, key], message: 'unknown field' })
        break
      case 'invalid_type':
        problems.push({
          path,
          message:
            issue.input === undefined
              ? 'is required'
              : `must be ${article(issue.expected)}, not ${describeValue(issue.input)}`,
        })
        break
      case 'invalid_value':
        problems.push({
          path,
          message: `${shown(issue.input)}must be one of ${issue.values.map((v) => String(v)).join(', ')}`,
        })
        break
      case 'invalid_union':
        problems.push({ path, message: unionMessage(path, issue.input) })
        break
      case 'invalid_key':
        problems.push({ path, message: `invalid name: ${issue.issues[0]?.message ?? issue.message}` })
        break
      case 'too_small':
        problems.push({ path, message: tooSmall(issue) })
        break
      default:
        problems.push({ path, message: issue.message })
    }
  }
  return problems
}

function unionMessage(path: readonly PropertyKey[], input: unknown): string {
  if (path.at(-1) === 'probe') return 'must be either {http: URL} or {exec: [command, args…]}'
  // a provider instance's `type` picks its settings (the discriminator of the union)
  if (path[0] === 'providers' && path.at(-1) === 'type') {
    const type = input !== null && typeof input === 'object' ? (input as { type?: unknown }).type : input
    const hint = type === 'vault-transit' ? ' (Vault/OpenBao Transit: type exec with its example hook)' : ''
    return `${shown(type)}must be one of ${CONFIGURABLE_PROVIDER_TYPES.join(', ')}${hint}`
  }
  // an incident sink's `type` picks its form: a webhook-like sink or a ticketing system
  if (path[0] === 'notifications' && path[1] === 'incidents' && path.at(-1) === 'type') {
    const type = input !== null && typeof input === 'object' ? (input as { type?: unknown }).type : input
    return `${shown(type)}must be one of ${INCIDENT_SINK_TYPES.join(', ')}`
  }
  return 'does not match any of the allowed forms'
}

function tooSmall(issue: z.core.$ZodIssueTooSmall): string {
  if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'must not be empty'
  if (issue.origin === 'array') return `must have at least ${issue.minimum} item(s)`
  return issue.message
}

// zod speaks JavaScript; the person reading this edits YAML
const YAML_TYPES: Record<string, string> = { array: 'a list', object: 'a mapping', record: 'a mapping' }

function article(type: string): string {
  return YAML_TYPES[type] ?? (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`)
}

function describeValue(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'a list'
  if (typeof value === 'object') return 'a mapping'
  return `${typeof value} ${JSON.stringify(value)}`
}

// The offending value helps where a choice was mistyped ("aes-512-gcm" is not valid: …). It is
// echoed only for such choices and only when short: a secret pasted into a free-text field (say
// secretEnv) must not reappear in an error message, which may be logged.
function shown(input: unknown): string {
  if (typeof input === 'string' && input.length <= 80) return `"${input}" is not valid: `
  if (typeof input === 'number' || typeof input === 'boolean') return `${String(input)} is not valid: `
  return ''
}
