import { z } from 'zod'
import { ALGORITHMS } from '../domain/algorithms.js'
import { isDuration, parseDuration } from '../domain/duration.js'
import { providerSettingsSchema } from './provider-settings.js'
import {
  githubSinkSchema,
  jiraSinkSchema,
  servicenowSinkSchema,
  templateSinkSchema,
} from './ticket-sinks-schema.js'

// Messages are phrased to follow "<path>: ", as load-config prints them. The regex patterns
// repeat what the refinements check so that the published JSON Schema catches them in editors too.
const DURATION_HINT = 'must be a duration such as 30s, 10m, 6h or 90d'
// the same grammar as domain/duration.ts parseDuration, as a pattern JSON Schema can carry
const duration = z.string().regex(/^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/, { message: DURATION_HINT })
const positiveDuration = duration.refine((d) => !isDuration(d) || parseDuration(d) > 0, {
  message: 'must be longer than zero',
})
const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a slug: lowercase letters, digits and dashes' })
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'must be an environment variable name' })
const httpUrl = z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' })
const timezone = z
  .string()
  .refine(isTimezone, { message: 'must be an IANA time zone such as UTC or Europe/Paris' })
const cron = z.string().regex(/^\S+(\s+\S+){4}$/, {
  message: 'must be a five-field cron expression such as "0 2 * * SAT"',
})
const isoTime = z.iso.datetime({
  offset: true,
  message: 'must be an ISO-8601 time such as 2026-12-20T00:00:00Z',
})

export const policySchema = z
  .object({
    rotationPeriod: positiveDuration
      .optional()
      .describe('Built-in schedule: rotate this often. Omit when an external scheduler triggers rotations.'),
    gracePeriod: duration
      .default('7d')
      .describe('How long the old version stays retiring (decrypt/verify only) before it is revoked.'),
    revoke: z
      .enum(['disable', 'destroy'])
      .default('disable')
      .describe('What revocation does to the old version: disable (recoverable) or destroy (irreversible).'),
    window: z.string().optional().describe('Name of a change window (under `windows`); omit for any time.'),
    phaseTimeout: positiveDuration.default('10m').describe('Longest time one phase of a run may take.'),
    requireApproval: z
      .boolean()
      .default(false)
      .describe('Whether every rotation of this key waits for an approval.'),
    jwksMaxAge: duration
      .optional()
      .describe(
        'Cache-Control max-age of the JWKS (default 300s). An ordinary rotation promotes a signing key only once ' +
          'its new version has been published this long, so verifiers that cache the JWKS have it.',
      ),
  })
  .strict()

export const dependentSchema = z
  .object({
    name: slug.describe('Name of the dependent service, unique within the key.'),
    probe: z
      .union([
        z.object({ http: httpUrl }).strict(),
        z.object({ exec: z.array(z.string().min(1)).min(1) }).strict(),
      ])
      .describe(
        'Where keyrotor asks which versions the service accepts and uses: {http: URL} or {exec: [cmd, …]}.',
      ),
    notify: z
      .object({
        http: httpUrl,
        secretEnv: envName.optional().describe('Environment variable holding the HMAC secret of notices.'),
      })
      .strict()
      .optional()
      .describe('Where keyrotor POSTs signed notices of version changes.'),
    critical: z.boolean().default(true).describe('Whether rotation must wait for this dependent.'),
  })
  .strict()

const DEFAULT_POLICY = {
  gracePeriod: '7d',
  revoke: 'disable',
  phaseTimeout: '10m',
  requireApproval: false,
} as const

export const keySchema = z
  .object({
    id: slug.describe('Key id: a slug, unique in the file.'),
    provider: slug.describe(
      'Where the key material lives: `local` (the built-in keystore) or the name of an entry under `providers`.',
    ),
    algorithm: z.enum(ALGORITHMS).describe('Key algorithm.'),
    owner: z.string().min(1, { message: 'must not be empty' }).describe('Owning team.'),
    aliases: z
      .array(z.string().regex(/^alias\/[A-Za-z0-9/_-]+$/, { message: 'must look like alias/name' }))
      .default([])
      .describe('Stable names that point at the active version; unique across all keys.'),
    policy: policySchema.default(DEFAULT_POLICY).describe('Rotation policy.'),
    dependents: z.array(dependentSchema).default([]).describe('Services that use this key.'),
  })
  .strict()

export const windowSchema = z
  .object({
    cron: cron.describe('When the window opens, as a five-field cron expression.'),
    duration: positiveDuration.describe('How long the window stays open.'),
    timezone: timezone.default('UTC').describe('IANA time zone the cron expression is read in.'),
  })
  .strict()

export const blackoutSchema = z
  .object({
    from: isoTime.describe('Start of the freeze (ISO-8601 with offset).'),
    to: isoTime.describe('End of the freeze, after `from`.'),
    reason: z.string().min(1, { message: 'must not be empty' }),
    keys: z.array(slug).optional().describe('Keys the freeze applies to; omit for every key.'),
  })
  .strict()

const sinkSchema = z
  .object({
    type: z.enum(['webhook', 'slack', 'pagerduty']),
    url: httpUrl.optional().describe('Where to send; a URL that is itself a credential belongs in urlEnv.'),
    urlEnv: envName
      .optional()
      .describe('Environment variable holding the URL (a Slack incoming-webhook URL is a secret).'),
    secretEnv: envName.optional().describe('Environment variable holding the HMAC secret of the webhook.'),
  })
  .strict()
  .refine((s) => (s.url === undefined) !== (s.urlEnv === undefined), {
    message: 'give exactly one of url and urlEnv',
  })

/** An incident sink: a webhook, Slack or PagerDuty, or a ticketing system (ticket-sinks-schema.ts). */
const incidentSinkSchema = z.discriminatedUnion('type', [
  sinkSchema,
  githubSinkSchema,
  jiraSinkSchema,
  servicenowSinkSchema,
  templateSinkSchema,
])

// `host:port`, the host a name, IPv4 or [IPv6]
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, {
  message: 'must be host:port, e.g. siem.example:6514',
})

/** Where every audit record is streamed as it is committed (`notifications.audit`). */
export const auditSinkSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('syslog'),
      address: hostPort.describe('The collector, host:port (TCP; RFC 5424 messages, octet-counted framing).'),
      tls: z.boolean().default(false).describe('Connect with TLS (RFC 5425).'),
      caFile: z
        .string()
        .min(1)
        .optional()
        .describe('PEM file of the CA that signed the collector certificate (default: the system CAs).'),
      appName: z
        .string()
        .regex(/^[!-~]{1,48}$/)
        .default('keyrotor')
        .describe('RFC 5424 APP-NAME.'),
    })
    .strict(),
  z
    .object({
      type: z.literal('http'),
      url: httpUrl.describe('Receives POSTs of JSON lines (application/x-ndjson), one record a line.'),
      secretEnv: envName
        .optional()
        .describe('Environment variable holding the HMAC secret that signs each POST.'),
      batchSize: z.number().int().min(1).max(1000).default(100).describe('Records per POST, at most.'),
    })
    .strict(),
  z
    .object({
      type: z.literal('file'),
      path: z.string().min(1).describe('JSON lines file, appended to and rotated to PATH.1, PATH.2, …'),
      maxBytes: z
        .number()
        .int()
        .min(1024)
        .default(10_485_760)
        .describe('Rotate when the file reaches this size.'),
      keep: z.number().int().min(1).max(100).default(5).describe('Rotated files kept.'),
    })
    .strict(),
])

export const configSchema = z
  .object({
    providers: z
      .record(slug, providerSettingsSchema)
      .default({})
      .describe('Named provider instances (HSMs, KMS, exec hooks) keys can live on; `local` is built in.'),
    keys: z.array(keySchema).default([]).describe('The managed keys.'),
    windows: z.record(slug, windowSchema).default({}).describe('Named change windows.'),
    blackouts: z.array(blackoutSchema).default([]).describe('Periods in which no rotation starts.'),
    notifications: z
      .object({
        alerts: z.array(sinkSchema).default([]).describe('Where alerts are sent.'),
        incidents: z
          .array(incidentSinkSchema)
          .default([])
          .describe('Where incidents are sent: webhooks, or tickets in GitHub, Jira, ServiceNow or any API.'),
        // optional without a default: a config without audit sinks keeps the hash it had before
        audit: z
          .array(auditSinkSchema)
          .optional()
          .describe('Where every audit record is streamed, with its chain hash (syslog, http, file).'),
      })
      .strict()
      .default({ alerts: [], incidents: [] }),
    changePolicy: z
      .object({
        window: slug
          .optional()
          .describe('Approved configuration changes are applied only inside this window.'),
      })
      .strict()
      .optional()
      .describe('When an approved configuration change may be applied.'),
  })
  .strict()

export type KeyrotorConfig = z.infer<typeof configSchema>
export type KeyConfig = z.infer<typeof keySchema>
export type KeyPolicy = z.infer<typeof policySchema>
export type DependentConfig = z.infer<typeof dependentSchema>
export type AuditSinkConfig = z.infer<typeof auditSinkSchema>

function isTimezone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}
