import { z } from 'zod'
import { PHASES } from '../../domain/phases.js'
import { RUN_KINDS, RUN_STATES, TRIGGERS } from '../../domain/runs.js'
import { FAILURE_CLASSES } from '../../errors.js'
import { IDEMPOTENCY_KEY_MAX } from '../idempotency-key.js'
import { nullableString, nullableTimestamp, queryInt, timestamp } from './common.js'

/** One consistency check of a verification or of post-rotation validation. */
export const Check = z.object({ name: z.string(), passed: z.boolean(), detail: z.string() })

/** A run as every JSON output shows it (CONTRACT.md). */
export const Run = z
  .object({
    id: z.string(),
    key: z.string(),
    kind: z.enum(RUN_KINDS),
    state: z.enum(RUN_STATES),
    phase: z.enum(PHASES).describe('the phase the run is in, or stopped in'),
    fromVersion: z.number().int().nullable(),
    toVersion: z.number().int().nullable(),
    correlationId: z.string(),
    idempotencyKey: nullableString,
    trigger: z.enum(TRIGGERS),
    requestedBy: z.string(),
    priority: z.number().int(),
    failure: z
      .object({ class: z.enum(FAILURE_CLASSES), phase: z.enum(PHASES), message: z.string() })
      .nullable(),
    duplicateCount: z.number().int(),
    attempt: z.number().int().nullable(),
    reason: nullableString,
    validation: z.object({ passed: z.boolean(), checks: z.array(Check) }).nullable(),
    createdAt: timestamp,
    startedAt: nullableTimestamp,
    finishedAt: nullableTimestamp,
  })
  .meta({ id: 'Run' })

/** What `verify` found on one key. */
export const KeyVerification = z
  .object({
    key: z.string(),
    passed: z.boolean(),
    checks: z.array(Check),
    mismatches: z.array(z.string()),
  })
  .meta({ id: 'KeyVerification' })

export const AllVerification = z.object({ passed: z.boolean(), keys: z.array(KeyVerification) })

/** `POST /v1/runs/{id}/verify`: the run, with the verification's outcome riding along. */
export const RunVerification = Run.safeExtend({
  runId: z.string(),
  passed: z.boolean(),
  checks: z.array(Check),
  mismatches: z.array(z.string()),
})

/** One entry of a run's journal. */
export const RunEvent = z
  .object({
    id: z.number().int(),
    runId: z.string(),
    correlationId: z.string(),
    at: timestamp,
    type: z.string(),
    phase: z.string().nullable(),
    message: z.string(),
    data: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'RunEvent' })

export const RunEventsPage = z.object({
  events: z.array(RunEvent),
  cursor: z.number().int().describe('pass back as `after` for the next page'),
})

/** Event ids are 32-bit integers in PostgreSQL: a larger cursor is a client's mistake. */
export const MAX_EVENT_ID = 2_147_483_647

export const RunParams = z.object({ id: z.string().min(1).max(100) })

export const RunsQuery = z.object({
  key: z.string().max(64).optional().describe('only runs of this key'),
  state: z.enum(RUN_STATES).optional().describe('only runs in this state'),
  limit: queryInt(1, 1000).optional().describe('the most runs in the answer'),
})

export const RunQuery = z.object({
  wait: z
    .string()
    .max(32)
    .optional()
    .describe('hold the answer until the run ends or this long passes (e.g. 30s; at most 60s)'),
})

export const RunEventsQuery = z.object({
  after: queryInt(0, MAX_EVENT_ID).optional().describe('the cursor: events after this event id'),
})

/** Documents the header in each route's schema (and so in /openapi.json). */
export const IdempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .optional()
    .describe(
      'IETF draft-ietf-httpapi-idempotency-key-header: a structured-field string ("…"); ' +
        'a bare token is accepted too. Same meaning as the body field idempotencyKey.',
    ),
})

export const RotationBody = z
  .strictObject({
    idempotencyKey: z.string().min(1).max(IDEMPOTENCY_KEY_MAX).optional(),
    reason: z.string().max(2000).optional(),
    emergency: z.boolean().optional().describe('an emergency rotation: waits for a security approval'),
    attempt: z.number().int().min(0).max(1_000_000).optional(),
  })
  .nullish()

export const ForwardCorrectionBody = z
  .strictObject({
    reason: z.string().max(2000).optional(),
    idempotencyKey: z.string().min(1).max(IDEMPOTENCY_KEY_MAX).optional(),
  })
  .nullish()
