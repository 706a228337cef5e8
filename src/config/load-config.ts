import { readFile } from 'node:fs/promises'
import { parseDocument } from 'yaml'
import { parseDuration } from '../domain/duration.js'
import { KeyrotorError } from '../errors.js'
import { formatProblems, problemsFromZod, type ConfigProblem } from './config-problems.js'
import type { ParsedYamlCache } from './parsed-yaml-cache.js'
import { configSchema, type KeyPolicy, type KeyrotorConfig } from './schema.js'
import { semanticProblems, type SemanticCheckOptions } from './semantic-checks.js'

export { configHash, canonicalJson } from './config-hash.js'
export type { SemanticCheckOptions as ParseConfigOptions } from './semantic-checks.js'

/**
 * Parses and validates keyrotor.yaml text. `source` names the text in messages (a file path,
 * "request body"). Throws INVALID_CONFIG whose message lists every problem, one per line, as
 * `<source>: <path>: <problem>` (YAML syntax errors as `<source>:<line>:<col>: …`); the same lines
 * are in `details.problems`. The result is deeply frozen.
 */
export function parseConfig(
  text: string,
  source: string,
  options: SemanticCheckOptions = {},
  cache?: ParsedYamlCache,
): KeyrotorConfig {
  const cached = cache?.read(text)
  if (cached !== undefined) return validateConfig(cached ?? {}, source, options)
  const data = parseYaml(text, source)
  cache?.write(text, data)
  // an empty file is a config with nothing in it, not an error
  return validateConfig(data ?? {}, source, options)
}

/** The YAML document of `text` as plain data; syntax errors name `source:line:col`. */
function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true })
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const at = e.linePos?.[0]
      const where = at === undefined ? source : `${source}:${at.line}:${at.col}`
      return `${where}: YAML syntax error: ${syntaxMessage(e.code, e.message)}`
    })
    throw invalid(lines)
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown
  } catch (error) {
    throw invalid([`${source}: YAML: ${error instanceof Error ? error.message : String(error)}`])
  }
}

/** Validates an already parsed document (e.g. a JSON request body) exactly as parseConfig does. */
export function validateConfig(
  data: unknown,
  source: string,
  options: SemanticCheckOptions = {},
): KeyrotorConfig {
  const result = configSchema.safeParse(data, { reportInput: true })
  if (!result.success) throw invalid(problemLines(source, problemsFromZod(result.error.issues)))
  const problems = semanticProblems(result.data, options)
  if (problems.length > 0) throw invalid(problemLines(source, problems))
  return deepFreeze(result.data)
}

/**
 * Reads and parses a config file; a missing or unreadable file is an INVALID_CONFIG naming it.
 * With `cache`, an unchanged file's YAML parse is read back instead of parsed again (server start).
 */
export async function loadConfigFile(
  path: string,
  options: SemanticCheckOptions = {},
  cache?: ParsedYamlCache,
): Promise<KeyrotorConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (code ?? 'unreadable')
    throw new KeyrotorError('INVALID_CONFIG', `cannot read config file ${path}: ${why}`, { cause: error })
  }
  return parseConfig(text, path, options, cache)
}

/** A key policy's durations in milliseconds, for the engine and scheduler. */
export interface PolicyMs {
  gracePeriodMs: number
  phaseTimeoutMs: number
  /** null: no built-in schedule, an external scheduler triggers rotations. */
  rotationPeriodMs: number | null
}

export function policyMs(policy: KeyPolicy): PolicyMs {
  return {
    gracePeriodMs: parseDuration(policy.gracePeriod),
    phaseTimeoutMs: parseDuration(policy.phaseTimeout),
    rotationPeriodMs: policy.rotationPeriod === undefined ? null : parseDuration(policy.rotationPeriod),
  }
}

function problemLines(source: string, problems: readonly ConfigProblem[]): string[] {
  return formatProblems(source, problems).split('\n')
}

function invalid(lines: string[]): KeyrotorError {
  return new KeyrotorError('INVALID_CONFIG', lines.join('\n'), { details: { problems: lines } })
}

// yaml's messages end with " at line N, column M:" and an excerpt; the position is already in
// front of ours, and its advice to call another API function means nothing to a person editing YAML.
function syntaxMessage(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return 'a config file holds one YAML document (remove the extra ---)'
  const first = message.split('\n')[0] ?? message
  return first.replace(/ at line \d+, column \d+:?$/, '')
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const member of Object.values(value)) deepFreeze(member)
    Object.freeze(value)
  }
  return value
}
