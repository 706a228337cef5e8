import { z } from 'zod'

/**
 * One `providers:` entry of type pkcs11 (CONTRACT § Key backends). The PIN is never in the file:
 * only the name of the environment variable that holds it.
 */
export const pkcs11SettingsSchema = z
  .object({
    type: z.literal('pkcs11'),
    /** Path of the vendor's PKCS#11 module (a shared library). */
    module: z.string().min(1),
    /** The token's label, as `pkcs11-tool --list-slots` shows it. */
    tokenLabel: z.string().min(1).max(32),
    /** Name of the environment variable holding the user PIN. */
    pinEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
    /** Slot id, when several slots hold tokens of that label. */
    slot: z.number().int().nonnegative().optional(),
  })
  .strict()

export type Pkcs11Settings = z.infer<typeof pkcs11SettingsSchema>
