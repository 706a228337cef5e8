import { z } from 'zod'
import { ALGORITHMS, PROVIDER_KINDS } from '../domain/algorithms.js'
import { isDuration } from '../domain/duration.js'

const duration = z.string().refine(isDuration, { message: 'must be a duration such as 30s, 10m, 6h or 90d' })
const slug = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be a slug: lowercase letters, digits and dashes' })
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'must be an environment variable name' })
const httpUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), { message: 'must be an http(s) URL' })

export const policySchema = z
  .object({
    rotationPeriod: duration.optional(),
    gracePeriod: duration.default('7d'),
    revoke: z.enum(['disable', 'destroy']).default('disable'),
    window: z.string().optional(),
    phaseTimeout: duration.default('10m'),
    requireApproval: z.boolean().default(false),
  })
  .strict()

export const dependentSchema = z
  .object({
    name: slug,
    probe: z.union([
      z.object({ http: httpUrl }).strict(),
      z.object({ exec: z.array(z.string().min(1)).min(1) }).strict(),
    ]),
    notify: z.object({ http: httpUrl, secretEnv: envName.optional() }).strict().optional(),
    critical: z.boolean().default(true),
  })
  .strict()

export const keySchema = z
  .object({
    id: slug,
    provider: z.enum(PROVIDER_KINDS),
    algorithm: z.enum(ALGORITHMS),
    owner: z.string().min(1),
    aliases: z.array(z.string().regex(/^alias\/[A-Za-z0-9/_-]+$/, { message: 'must look like alias/name' })).default([]),
    policy: policySchema.default({ gracePeriod: '7d', revoke: 'disable', phaseTimeout: '10m', requireApproval: false }),
    dependents: z.array(dependentSchema).default([]),
  })
  .strict()

export const windowSchema = z
  .object({ cron: z.string().min(1), duration, timezone: z.string().default('UTC') })
  .strict()

export const blackoutSchema = z
  .object({
    from: z.string().datetime({ offset: true }),
    to: z.string().datetime({ offset: true }),
    reason: z.string().min(1),
    keys: z.array(slug).optional(),
  })
  .strict()

const sinkSchema = z
  .object({ type: z.enum(['webhook', 'slack', 'pagerduty']), url: httpUrl, secretEnv: envName.optional() })
  .strict()

export const configSchema = z
  .object({
    keys: z.array(keySchema).default([]),
    windows: z.record(z.string(), windowSchema).default({}),
    blackouts: z.array(blackoutSchema).default([]),
    notifications: z
      .object({ alerts: z.array(sinkSchema).default([]), incidents: z.array(sinkSchema).default([]) })
      .strict()
      .default({ alerts: [], incidents: [] }),
  })
  .strict()

export type KeyrotorConfig = z.infer<typeof configSchema>
export type KeyConfig = z.infer<typeof keySchema>
export type KeyPolicy = z.infer<typeof policySchema>
export type DependentConfig = z.infer<typeof dependentSchema>
