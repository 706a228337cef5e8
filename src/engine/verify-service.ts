import { randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { KeyrotorError } from '../errors.js'
import type { AlertType } from '../observability/alerts.js'
import { appendEvents } from '../store/events-repository.js'
import { freezeKey, listKeys, listVersions, recordDependent, thawKey } from '../store/keys-repository.js'
import { findActiveRunForKey, findRun } from '../store/runs-repository.js'
import { encodeMismatches } from '../store/run-columns.js'
import type { Database, RunRow } from '../store/tables.js'
import {
  check,
  describeMismatch,
  explainedBy,
  inspectKey,
  type ConsistencyCheck,
  type ExplainedEffects,
  type StateMismatch,
} from './consistency-checks.js'
import { messageOf } from './dependent-ops.js'
import type { EngineDeps } from './engine-deps.js'
import { runEvent } from './journal.js'
import { loadManagedKey, type ManagedKey } from './managed-key.js'
import { auditedStatesCheck } from './version-audit.js'

export interface KeyVerification {
  key: string
  passed: boolean
  checks: ConsistencyCheck[]
  mismatches: string[]
}
export interface RunVerification extends KeyVerification {
  runId: string
}
export interface AllVerification {
  passed: boolean
  keys: KeyVerification[]
}

export type VerifyDeps = Pick<EngineDeps, 'db' | 'providers' | 'dependents' | 'audit' | 'now' | 'log'> & {
  alerts: EngineDeps['alerts'] & {
    resolve(filter: { type?: AlertType; key?: string }, executor?: Kysely<Database>): Promise<unknown>
  }
}

/**
 * The consistency check of DESIGN §4.6-4.8: store against provider and dependents, recorded as a
 * verification (a retry and a halt release need one that passed). A version state at the
 * provider that the store did not put there is an unexpected transition: the key is frozen, in
 * the same transaction as the verification, until a verify passes again.
 */
export function createVerifyService(deps: VerifyDeps) {
  const { db } = deps

  /** Inspects one key and records the verification, its freeze or thaw, alert and audit. */
  async function verify(
    keyId: string,
    actor: string,
    run: RunRow | undefined,
    explained: (key: ManagedKey) => ExplainedEffects,
    deeper: (key: ManagedKey) => Promise<ConsistencyCheck[]> = async () => [],
  ): Promise<KeyVerification> {
    const key = await loadManagedKey(db, keyId)
    const inspection = await inspectKey(deps, key, explained(key))
    const { unexpected, observations } = inspection
    const result = withChecks(inspection.result, await deeper(key))
    const at = deps.now().toISOString()
    const correlationId = run?.correlation_id
    await db.transaction().execute(async (trx) => {
      await trx
        .insertInto('verifications')
        .values({
          id: randomUUID(),
          scope: run === undefined ? 'key' : 'run',
          key_id: keyId,
          run_id: run?.id ?? null,
          passed: result.passed ? 1 : 0,
          mismatches: encodeMismatches(result.mismatches),
          by_user: actor,
          at,
        })
        .execute()
      for (const o of observations) await recordDependent(trx, o)
      if (unexpected.length > 0) {
        const found = unexpected.map(describeMismatch).join('; ')
        await freezeKey(trx, keyId, at, `unexpected transition: ${found}`)
        await deps.alerts.raise(trx, {
          type: 'unexpected_transition',
          severity: 'critical',
          key: keyId,
          correlationId,
          message: `unexpected key state transition on ${keyId}: ${unexpected.map((m) => transitionText(keyId, m)).join('; ')}. The key is frozen until \`keyrotor verify ${keyId}\` passes`,
        })
      } else if (result.passed) {
        await thawKey(trx, keyId)
        await deps.alerts.resolve({ type: 'unexpected_transition', key: keyId }, trx)
      }
      if (run !== undefined) {
        const text = result.passed ? 'consistent' : `inconsistent: ${result.mismatches.join('; ')}`
        await appendEvents(trx, [
          runEvent(run, new Date(at), 'run.verified', null, `verified by ${actor}: ${text}`),
        ])
      }
      await deps.audit.append(trx, {
        actor,
        action: run === undefined ? 'key.verified' : 'run.verified',
        target: keyId,
        correlationId,
        details: { runId: run?.id ?? null, passed: result.passed, mismatches: result.mismatches },
      })
    })
    if (unexpected.length > 0) {
      deps.log.error(
        { key: keyId, correlationId, runId: run?.id, actor },
        'unexpected transition; key frozen',
      )
    }
    return result
  }

  /** A running run's effects are in flight: they are not mismatches, so there is nothing to judge. */
  async function refuseWhileRunning(keyId: string): Promise<void> {
    const live = await findActiveRunForKey(db, keyId)
    if (live?.state === 'running') {
      throw new KeyrotorError(
        'CONFLICT',
        `key ${keyId} has run ${live.id} running (phase ${live.phase}); verify it once the run has ended`,
      )
    }
  }

  return {
    async verifyKey(
      keyId: string,
      actor: string,
      options: { runId?: string } = {},
    ): Promise<KeyVerification> {
      if (options.runId !== undefined) return verifyRun(options.runId, actor)
      await refuseWhileRunning(keyId)
      return verify(keyId, actor, undefined, () => ({}))
    },
    verifyRun,
    /** `purpose` tells an operator's `verify --all` from the one a halt release runs itself. */
    async verifyAll(actor: string, purpose?: string): Promise<AllVerification> {
      const keys: KeyVerification[] = []
      for (const { id } of await listKeys(db)) keys.push(await verifyForAll(id, actor))
      const passed = keys.every((k) => k.passed)
      const mismatches = keys.flatMap((k) => k.mismatches.map((m) => `${k.key}: ${m}`))
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('verifications')
          .values({
            id: randomUUID(),
            scope: 'all',
            key_id: null,
            run_id: null,
            passed: passed ? 1 : 0,
            mismatches: encodeMismatches(mismatches),
            by_user: actor,
            at: deps.now().toISOString(),
          })
          .execute()
        await deps.audit.append(trx, {
          actor,
          action: 'keys.verified',
          details: { passed, keys: keys.length, mismatches, purpose: purpose ?? 'verify --all' },
        })
      })
      return { passed, keys }
    },
  }

  async function verifyRun(runId: string, actor: string): Promise<RunVerification> {
    const run = await findRun(db, runId)
    if (run === undefined) throw new KeyrotorError('NOT_FOUND', `unknown run ${runId}`)
    await refuseWhileRunning(run.key_id)
    const result = await verify(run.key_id, actor, run, (key) => explainedBy(run, key))
    return { ...result, runId }
  }

  /**
   * One key of `verify --all`. A run that holds a live lease is acting now: the key is reported,
   * not judged. A run paused by the halt stands at a phase boundary, where only its own recorded
   * effects may differ.
   */
  async function verifyForAll(keyId: string, actor: string): Promise<KeyVerification> {
    const live = await findActiveRunForKey(db, keyId)
    if (
      live?.state === 'running' &&
      live.lease_owner !== null &&
      (live.lease_expires_at ?? '') > deps.now().toISOString()
    ) {
      const busy = check('in-flight', [`run ${live.id} is running (phase ${live.phase})`], '')
      return { key: keyId, passed: false, checks: [busy], mismatches: [`${busy.name}: ${busy.detail}`] }
    }
    try {
      return await verify(
        keyId,
        actor,
        undefined,
        (key) => (live === undefined ? {} : explainedBy(live, key)),
        async (key) => [await selfTestCheck(deps, key), await auditedStatesCheck(db, keyId)],
      )
    } catch (error) {
      const failed = check('verify', [messageOf(error)], '')
      return { key: keyId, passed: false, checks: [failed], mismatches: [`${failed.name}: ${failed.detail}`] }
    }
  }
}

export type VerifyService = ReturnType<typeof createVerifyService>

function transitionText(keyId: string, m: StateMismatch): string {
  const store = m.store === null ? 'does not know it' : `has it ${m.store}`
  return `${keyId} v${m.version}: the store ${store}, the provider reports ${m.provider ?? 'nothing (missing)'}`
}

/** `result` with `extra` checks added, its verdict and mismatches recomputed. */
function withChecks(result: KeyVerification, extra: ConsistencyCheck[]): KeyVerification {
  if (extra.length === 0) return result
  const checks = [...result.checks, ...extra]
  const mismatches = checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`)
  return { ...result, checks, passed: mismatches.length === 0, mismatches }
}

/** Every version the store says is usable (pending, active, retiring) works at its provider. */
async function selfTestCheck(
  deps: Pick<VerifyDeps, 'db' | 'providers'>,
  key: ManagedKey,
): Promise<ConsistencyCheck> {
  const provider = deps.providers.get(key.provider)
  const ref = { keyId: key.id, algorithm: key.algorithm }
  const usable = (await listVersions(deps.db, key.id)).filter((v) => USABLE.has(v.state))
  const wrong: string[] = []
  for (const { version } of usable) {
    try {
      const outcome = await provider.selfTest(ref, version)
      if (!outcome.passed) wrong.push(`v${version}: ${outcome.detail}`)
    } catch (error) {
      wrong.push(`v${version}: ${messageOf(error)}`)
    }
  }
  return check('self-test', wrong, `${usable.length} usable versions pass their provider's self-test`)
}

const USABLE = new Set(['pending', 'active', 'retiring'])
