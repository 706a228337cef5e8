import { expectedProviderState, type VersionState } from '../../domain/lifecycle.js'
import { KeyrotorError } from '../../errors.js'
import { listAliases, listVersions } from '../../store/keys-repository.js'
import { messageOf, probeAllOnce } from '../dependent-ops.js'
import type { PhaseContext, PhaseHandler } from '../phase-context.js'
import { requireVersion } from './create.js'

export interface ValidationCheck {
  name: string
  passed: boolean
  detail: string
}

/** Post-rotation validation (seed playbook): aliases, states, dependents, self-test, anomalies. */
export const validate: PhaseHandler = async (ctx) => {
  const to = requireVersion(ctx.run.to_version, 'to')
  const checks = [
    await aliasesPointAtNewVersion(ctx, to),
    await providerStatesMatchStore(ctx),
    await dependentsOnNewVersion(ctx, to),
    await selfTest(ctx, to),
    await noAnomalies(ctx),
  ]
  const passed = checks.every((c) => c.passed)
  const failed = checks.filter((c) => !c.passed)
  return {
    message: passed ? `${checks.length} checks passed` : `failed: ${failed.map((c) => c.name).join(', ')}`,
    runPatch: { validation: JSON.stringify({ passed, checks }) },
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

async function aliasesPointAtNewVersion(ctx: PhaseContext, to: number): Promise<ValidationCheck> {
  const wrong: string[] = []
  for (const alias of await listAliases(ctx.db, ctx.key.id)) {
    const atProvider = await ctx.provider.getAlias(ctx.ref, alias.name)
    if (alias.version !== to || atProvider !== to) {
      wrong.push(`${alias.name} → store v${alias.version}, provider v${atProvider ?? 'none'}`)
    }
  }
  return check('alias-mapping', wrong, `every alias points at v${to}`)
}

async function providerStatesMatchStore(ctx: PhaseContext): Promise<ValidationCheck> {
  const stored = await listVersions(ctx.db, ctx.key.id)
  const atProvider = new Map((await ctx.provider.listVersions(ctx.ref)).map((v) => [v.version, v.state]))
  const wrong: string[] = []
  for (const v of stored) {
    const expected = expectedProviderState(v.state as VersionState)
    const actual = atProvider.get(v.version)
    if (actual !== expected)
      wrong.push(`v${v.version} is ${v.state} in the store but ${actual ?? 'missing'} at the provider`)
    atProvider.delete(v.version)
  }
  for (const version of atProvider.keys())
    wrong.push(`v${version} exists at the provider but not in the store`)
  return check('version-states', wrong, `${stored.length} versions agree with the provider`)
}

async function dependentsOnNewVersion(ctx: PhaseContext, to: number): Promise<ValidationCheck> {
  const wrong: string[] = []
  for (const [name, answer] of await probeAllOnce(ctx)) {
    if (answer instanceof Error) wrong.push(`${name}: ${messageOf(answer)}`)
    else if (!answer.accepts.includes(to)) wrong.push(`${name} does not accept v${to}`)
    else if (answer.active !== null && answer.active !== to)
      wrong.push(`${name} still uses v${answer.active}`)
  }
  return check('dependents', wrong, `${ctx.key.dependents.length} dependents accept v${to}, signers use it`)
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
async function noAnomalies(ctx: PhaseContext): Promise<ValidationCheck> {
  const rows = await ctx.db
    .selectFrom('run_events')
    .select(['type', 'message'])
    .where('correlation_id', '=', ctx.run.correlation_id)
    .where((eb) => eb.or([eb('type', 'like', '%.warning'), eb('type', 'like', '%.error')]))
    .execute()
  return check(
    'anomalies',
    rows.map((r) => `${r.type}: ${r.message}`),
    'no warning or error journaled under the correlation id',
  )
}

function check(name: string, wrong: string[], ok: string): ValidationCheck {
  return { name, passed: wrong.length === 0, detail: wrong.length === 0 ? ok : wrong.join('; ') }
}
