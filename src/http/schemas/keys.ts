import { z } from 'zod'
import { policySchema } from '../../config/schema.js'
import { VERSION_STATES } from '../../domain/lifecycle.js'
import { RUN_KINDS, RUN_STATES } from '../../domain/runs.js'
import { nullableString, nullableTimestamp, timestamp } from './common.js'

export const Dependent = z.object({
  name: z.string(),
  critical: z.boolean(),
  lastProbeAt: nullableTimestamp,
  accepts: z.array(z.number().int()).nullable().describe('the versions it accepted at the last probe'),
  active: z.number().int().nullable().describe('the version it used at the last probe'),
  lastError: nullableString,
  lastNotice: nullableString,
  lastNoticeAt: nullableTimestamp,
})

/** A key as every JSON output shows it (CONTRACT.md), with each dependent's last answer. */
export const Key = z
  .object({
    id: z.string(),
    provider: z.string(),
    algorithm: z.string(),
    owner: z.string(),
    activeVersion: z.number().int().nullable(),
    aliases: z.array(z.object({ name: z.string(), version: z.number().int() })),
    versions: z.array(
      z.object({
        version: z.number().int(),
        state: z.enum(VERSION_STATES),
        compromised: z.boolean(),
        providerRef: z.string().describe("the provider's own name of the version; never material"),
        createdAt: timestamp,
      }),
    ),
    dependents: z.array(Dependent),
    policy: policySchema,
    frozen: z
      .object({ since: timestamp, reason: nullableString })
      .nullable()
      .describe('set while an unexpected transition holds the key: no rotation until verify thaws it'),
    lastRun: z
      .object({ id: z.string(), kind: z.enum(RUN_KINDS), state: z.enum(RUN_STATES), createdAt: timestamp })
      .nullable(),
  })
  .meta({ id: 'Key' })

export const KEY_ID = z.string().min(1).max(64)

export const KeyParams = z.object({ key: KEY_ID })

export const KeysQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).optional().describe('The most keys in the page'),
  cursor: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('Start after this key id (the last id of the previous page)'),
  q: z.string().max(64).optional().describe('Substring of the key id or owner'),
})

export const MaterialParams = z.object({
  key: KEY_ID,
  version: z.coerce.number().int().min(1).max(2_147_483_647),
})

/** A JSON Web Key (RFC 7517): public members only in a JWKS, the material for a bound consumer. */
export const Jwk = z.looseObject({ kty: z.string(), kid: z.string().optional(), alg: z.string().optional() })

export const Jwks = z.object({ keys: z.array(Jwk) })
