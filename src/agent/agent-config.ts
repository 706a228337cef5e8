import { readFile } from 'node:fs/promises'
import { parseDocument } from 'yaml'
import { z } from 'zod'
import { formatProblems, problemsFromZod } from '../config/config-problems.js'
import { parseDuration } from '../domain/duration.js'
import { KeyrotorError } from '../errors.js'

// The same vocabulary and messages as keyrotor.yaml (src/config/schema.ts).
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'must be an environment variable name' })
const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a slug: lowercase letters, digits and dashes' })
const duration = z
  .string()
  .regex(/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/, { message: 'must be a duration such as 30s, 10m, 6h or 90d' })
const argv = z
  .array(z.string().min(1, { message: 'must not be empty' }))
  .min(1, { message: 'must name a program: ["cmd", "arg", …]' })
const listen = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
  message: 'must be host:port, such as 127.0.0.1:9101',
})

const output = z
  .object({
    dir: z
      .string()
      .min(1)
      .describe('Where the version files and `current` are written (created 0700 if missing).'),
    format: z
      .enum(['jwk', 'pem', 'raw'])
      .describe(
        'jwk: the JWK as JSON; pem: PKCS#8 private key, or SPKI public key for the verify role; raw: secret-key bytes.',
      ),
  })
  .strict()

/** What one key needs, in the single-key form at the top level or as one entry of `keys:`. */
const keyFields = {
  key: slug.describe('The keyrotor key id.'),
  role: z.enum(['encrypt', 'decrypt', 'sign', 'verify']).describe('What the service does with the key.'),
  output: output.describe('Where and how versions are handed to the service.'),
  reload: argv.optional().describe('Run (no shell) after the files change; must exit 0.'),
  healthCheck: argv.optional().describe('Run (no shell) after reload; must exit 0 for a version to count.'),
  tokenEnv: envName
    .optional()
    .describe(
      'Consumer token bound to this key (default: keyrotor.tokenEnv); each token is bound to one key.',
    ),
  initialVersion: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe("At the first start (no saved state): the version to hand over, the key's active version."),
}

const keyEntry = z.object(keyFields).strict()

export const agentConfigSchema = z
  .object({
    keyrotor: z
      .object({
        url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).describe("keyrotor's URL."),
        tokenEnv: envName.optional().describe('Environment variable holding the consumer token.'),
      })
      .strict(),
    listen: listen.describe('host:port serving /keyrotor/probe and /keyrotor/notify.'),
    secretEnv: envName.describe(
      'Environment variable holding the notice secret; unsigned or forged notices get 401.',
    ),
    timeout: duration.default('30s').describe('Longest time each reload or health check may run.'),
    // the single-key form: the fields of one entry of keys:, at the top level
    key: keyFields.key.optional(),
    role: keyFields.role.optional(),
    output: keyFields.output.optional(),
    reload: keyFields.reload,
    healthCheck: keyFields.healthCheck,
    tokenEnv: keyFields.tokenEnv,
    initialVersion: keyFields.initialVersion,
    keys: z
      .array(keyEntry)
      .min(1)
      .optional()
      .describe('Several keys of one service, each with its own output.'),
  })
  .strict()
  .superRefine((config, context) => {
    const single = config.key !== undefined
    if (single && config.keys !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['keys'],
        message: 'give either key: (one key) or keys: (a list), not both',
      })
    }
    if (!single && config.keys === undefined) {
      context.addIssue({ code: 'custom', path: ['key'], message: 'is required (or a keys: list)' })
    }
    if (single) {
      for (const name of ['role', 'output'] as const)
        if (config[name] === undefined)
          context.addIssue({ code: 'custom', path: [name], message: 'is required' })
    } else {
      for (const name of ['role', 'output', 'tokenEnv', 'initialVersion'] as const)
        if (config[name] !== undefined)
          context.addIssue({ code: 'custom', path: [name], message: 'belongs in each entry of keys:' })
    }
    const seen = new Set<string>()
    for (const [i, entry] of (config.keys ?? []).entries()) {
      if (seen.has(entry.key))
        context.addIssue({
          code: 'custom',
          path: ['keys', i, 'key'],
          message: `${entry.key} is listed twice`,
        })
      seen.add(entry.key)
    }
    const dirs = new Set<string>()
    for (const [i, entry] of (config.keys ?? []).entries()) {
      if (dirs.has(entry.output.dir))
        context.addIssue({
          code: 'custom',
          path: ['keys', i, 'output', 'dir'],
          message: 'each key needs its own output dir',
        })
      dirs.add(entry.output.dir)
    }
  })

export type AgentRole = 'encrypt' | 'decrypt' | 'sign' | 'verify'
export type OutputFormat = 'jwk' | 'pem' | 'raw'

/** One key the agent serves, with the service-wide defaults filled in. */
export interface AgentKeyConfig {
  key: string
  role: AgentRole
  output: { dir: string; format: OutputFormat }
  reload: string[] | undefined
  healthCheck: string[] | undefined
  tokenEnv: string | undefined
  initialVersion: number | undefined
}

export interface AgentConfig {
  keyrotorUrl: string
  listen: { host: string; port: number }
  secretEnv: string
  timeoutMs: number
  keys: AgentKeyConfig[]
}

/** Parses agent.yaml; errors are INVALID_CONFIG with one `<source>: <path>: <problem>` per line. */
export function parseAgentConfig(text: string, source: string): AgentConfig {
  const doc = parseDocument(text, { prettyErrors: true })
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const at = e.linePos?.[0]
      return `${at === undefined ? source : `${source}:${at.line}:${at.col}`}: YAML syntax error: ${e.message.split('\n')[0]}`
    })
    throw new KeyrotorError('INVALID_CONFIG', lines.join('\n'), { details: { problems: lines } })
  }
  const result = agentConfigSchema.safeParse(doc.toJS() ?? {}, { reportInput: true })
  if (!result.success) {
    const lines = formatProblems(source, problemsFromZod(result.error.issues)).split('\n')
    throw new KeyrotorError('INVALID_CONFIG', lines.join('\n'), { details: { problems: lines } })
  }
  const c = result.data
  // the refinement made sure the single form has key, role and output
  const entries = c.keys ?? [
    { ...c, key: c.key ?? '', role: c.role ?? 'verify', output: c.output ?? { dir: '', format: 'jwk' } },
  ]
  const separator = c.listen.lastIndexOf(':')
  return {
    keyrotorUrl: c.keyrotor.url,
    listen: {
      host: c.listen.slice(0, separator).replace(/^\[|\]$/g, ''),
      port: Number(c.listen.slice(separator + 1)),
    },
    secretEnv: c.secretEnv,
    timeoutMs: parseDuration(c.timeout),
    keys: entries.map((entry) => ({
      key: entry.key,
      role: entry.role,
      output: entry.output,
      reload: entry.reload ?? c.reload,
      healthCheck: entry.healthCheck ?? c.healthCheck,
      tokenEnv: entry.tokenEnv ?? c.keyrotor.tokenEnv,
      initialVersion: entry.initialVersion,
    })),
  }
}

export async function loadAgentConfig(path: string): Promise<AgentConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new KeyrotorError(
      'INVALID_CONFIG',
      `cannot read agent config ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? 'unreadable')}`,
    )
  }
  return parseAgentConfig(text, path)
}
