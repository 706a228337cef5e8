import { KeyrotorError } from '../../errors.js'
import { lastRetriedAt, problemEventsSince } from '../../store/events-repository.js'
import { listAliases, listVersions } from '../../store/keys-repository.js'
import { encodeValidation } from '../../store/run-columns.js'
import {
  aliasMappingCheck,
  check,
  compareVersionStates,
  dependentsCheck,
  versionStatesCheck,
  type ConsistencyCheck,
} from '../verify/consistency-checks.js'
import { messageOf, probeAllOnce } from '../keys/dependent-ops.js'
import type { PhaseContext, PhaseHandler } from '../runs/phase-context.js'
import { requireVersion } from './create.js'

export type ValidationCheck = ConsistencyCheck

/** Post-rotation validation (seed playbook): aliases, states, dependents, self-test, anomalies. */
export const validate: PhaseHandler = async (ctx) => {
  const to = requireVersion(ctx.run.to_version, 'to')
  const stored = await listVersions(ctx.db, ctx.key.id)
  const checks = [
    await aliasMappingCheck(ctx.provider, ctx.ref, await listAliases(ctx.db, ctx.key.id), to),
    versionStatesCheck(compareVersionStates(stored, await ctx.provider.listVersions(ctx.ref)), stored.length),
    dependentsCheck(await probeAllOnce(ctx), to),
    await selfTest(ctx, to),
    await noAnomalies(ctx),
  ]
  const passed = checks.every((c) => c.passed)
  const failed = checks.filter((c) => !c.passed)
  return {
    message: passed ? `${checks.length} checks passed` : `failed: ${failed.map((c) => c.name).join(', ')}`,
    runPatch: { validation: encodeValidation({ passed, checks }) },
    ...(passed
      ? {}
      : {
          fail: new KeyrotorError(
            'CONFLICT',
            `post-rotation validation failed: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`,
          ),
        }),
  }
}

async function selfTest(ctx: PhaseContext, to: number): Promise<ValidationCheck> {
  try {
    const result = await ctx.provider.selfTest(ctx.ref, to)
    return { name: 'self-test', passed: result.passed, detail: result.detail }
  } catch (error) {
    return { name: 'self-test', passed: false, detail: messageOf(error) }
  }
}

/** Anything the run itself journaled as a warning or error is an anomaly to look at. */
/**
 * Anything journaled as a warning or error, or logged at warn or above, under the correlation id
 * since this attempt began (a retry starts afresh: the failure it follows was already looked at).
 */
async function noAnomalies(ctx: PhaseContext): Promise<ValidationCheck> {
  const since = (await lastRetriedAt(ctx.db, ctx.run.id)) ?? ctx.run.created_at
  const rows = await problemEventsSince(ctx.db, ctx.run.correlation_id, since)
  const logged = ctx.loggedProblems(ctx.run.correlation_id, since)
  return check(
    'anomalies',
    [...rows.map((r) => `${r.type}: ${r.message}`), ...logged.map((line) => `logged: ${line}`)],
    'no warning or error journaled under the correlation id',
  )
}
