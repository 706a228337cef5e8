import { z } from 'zod'

/** `30d`, `7d`: KMS schedules deletion in whole days, 7 to 30. */
const deletionWindow = z
  .string()
  .regex(/^\d+d$/, 'must be a number of days, e.g. 30d')
  .refine((value) => {
    const days = Number(value.slice(0, -1))
    return days >= 7 && days <= 30
  }, 'must be between 7d and 30d (the window AWS KMS allows)')

/**
 * One `providers:` entry of type aws-kms (CONTRACT § Key backends). Credentials come from the
 * AWS SDK's default chain (environment, shared config, instance role), never from the file.
 */
export const awsKmsSettingsSchema = z
  .object({
    type: z.literal('aws-kms'),
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, 'must be an AWS region, e.g. eu-west-1'),
    /** Another endpoint (a VPC endpoint, LocalStack). */
    endpoint: z.url().optional(),
    /** How long a destroyed version waits in PendingDeletion; default 30d. */
    deletionWindow: deletionWindow.default('30d'),
  })
  .strict()

export type AwsKmsSettings = z.input<typeof awsKmsSettingsSchema>

export function deletionWindowDays(settings: AwsKmsSettings): number {
  return Number((settings.deletionWindow ?? '30d').slice(0, -1))
}
