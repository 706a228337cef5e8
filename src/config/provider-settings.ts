import { z } from 'zod'
import { isDuration, parseDuration } from '../domain/duration.js'

// The settings of one named provider instance under `providers:`. Secrets are never here: a
// PKCS#11 PIN is named by its environment variable, AWS credentials come from the SDK's chain.
const DURATION = /^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/
const duration = z.string().regex(DURATION, { message: 'must be a duration such as 30s, 10m, 6h or 90d' })
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'must be an environment variable name' })
const DAY_MS = 86_400_000

export const pkcs11SettingsSchema = z
  .object({
    type: z.literal('pkcs11'),
    module: z.string().min(1).describe('Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so).'),
    tokenLabel: z.string().min(1).describe('Label of the token the keys live on.'),
    pinEnv: envName.describe('Environment variable holding the user PIN (never the PIN itself).'),
    slot: z.number().int().nonnegative().optional().describe('Slot id, when the label is not unique.'),
  })
  .strict()

export const awsKmsSettingsSchema = z
  .object({
    type: z.literal('aws-kms'),
    region: z.string().min(1).describe('AWS region, e.g. eu-west-1. Credentials: the SDK default chain.'),
    endpoint: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
    deletionWindow: duration
      .refine((d) => !isDuration(d) || (parseDuration(d) >= 7 * DAY_MS && parseDuration(d) <= 30 * DAY_MS), {
        message: 'must be between 7d and 30d (the KMS pending-deletion window)',
      })
      .optional()
      .describe('Waiting period of ScheduleKeyDeletion when a version is destroyed (7d-30d, default 30d).'),
  })
  .strict()

export const execSettingsSchema = z
  .object({
    type: z.literal('exec'),
    command: z
      .array(z.string().min(1))
      .min(1)
      .describe('The hook and its arguments; keyrotor appends the operation (create-version, …).'),
    timeout: duration
      .refine((d) => !isDuration(d) || parseDuration(d) > 0, { message: 'must be longer than zero' })
      .default('30s')
      .describe('Past this the hook process group is killed and the call fails as transient.'),
  })
  .strict()

export const providerSettingsSchema = z
  .discriminatedUnion('type', [pkcs11SettingsSchema, awsKmsSettingsSchema, execSettingsSchema])
  .describe('A provider instance: its type and that type’s settings.')

export type Pkcs11Settings = z.infer<typeof pkcs11SettingsSchema>
export type AwsKmsSettings = z.infer<typeof awsKmsSettingsSchema>
export type ExecSettings = z.infer<typeof execSettingsSchema>
export type ProviderSettings = z.infer<typeof providerSettingsSchema>
/** The types a `providers:` entry may have (`local` is built in and takes no settings). */
export type ConfigurableProviderType = ProviderSettings['type']

export const CONFIGURABLE_PROVIDER_TYPES: readonly ConfigurableProviderType[] = ['pkcs11', 'aws-kms', 'exec']
