import type { KeyrotorConfig } from '../config/schema.js'
import type { EngineDeps } from '../engine/engine-deps.js'
import { enrollKey } from '../engine/keys/key-enrollment.js'
import { isOpen, nextOpening } from '../domain/windows.js'
import { KeyrotorError } from '../errors.js'
import { isHalted } from '../store/halt-repository.js'
import { activeBody, loadProposal, toProposalView } from './proposals.js'
import { assertNoRunsOn, describePlan, planSync, prepareProviders, writeChanges } from './sync.js'

export interface ApplyDeps extends Pick<EngineDeps, 'db' | 'providers' | 'audit' | 'now'> {
  parse: (text: string, source: string) => KeyrotorConfig
}

/**
 * Makes an approved proposal the active version N+1 and brings the store in line with it: new
 * keys are enrolled (their provider calls come first, and enrolling is idempotent), managed keys'
 * settings, aliases and dependents are updated in the transaction that flips the active version.
 * A failure before that transaction leaves the proposal approved, so applying again finishes it.
 */
export async function applyProposal(
  deps: ApplyDeps,
  id: string,
  by: { user: string },
  correlationId: string,
) {
  const { db } = deps
  const row = await loadProposal(db, id)
  if (row.state !== 'approved') {
    const hint = row.state === 'pending' ? `; it waits for approval ${row.approval_id}` : ''
    throw new KeyrotorError(
      'CONFLICT',
      `config proposal ${id} is ${row.state}${hint}; only an approved proposal is applied`,
    )
  }
  const base = await activeBody(db)
  if (base.version !== row.base_version) {
    throw new KeyrotorError(
      'CONFLICT',
      `config proposal ${id} was made against version ${row.base_version}, but version ${base.version} is active now; propose it again to review its diff against version ${base.version}`,
    )
  }
  if (base.body !== '')
    assertInChangeWindow(deps.parse(base.body, `config version ${base.version}`), deps.now())
  if (await isHalted(db))
    throw new KeyrotorError('HALTED', 'the global halt is engaged: no config change is applied')
  const config = deps.parse(row.body, `proposal ${id}`)
  // the new provider instances must answer before a key is enrolled on them; a failed apply
  // puts the registry back on the providers of the version still active
  await deps.providers.configure?.(config.providers)
  try {
    await deps.providers.checkAll?.(config.keys)
    return await applyPlan(deps, {
      id,
      row,
      config,
      version: base.version + 1,
      baseVersion: base.version,
      by,
      correlationId,
    })
  } catch (error) {
    const previous = base.body === '' ? {} : deps.parse(base.body, `config version ${base.version}`).providers
    await deps.providers.configure?.(previous)
    throw error
  }
}

async function applyPlan(
  deps: ApplyDeps,
  a: {
    id: string
    row: Awaited<ReturnType<typeof loadProposal>>
    config: KeyrotorConfig
    version: number
    baseVersion: number
    by: { user: string }
    correlationId: string
  },
) {
  const { db } = deps
  const { id, row, config, version, by, correlationId } = a
  const base = { version: a.baseVersion }
  const plan = await planSync(db, config)
  await assertNoRunsOn(db, plan)
  // provider calls happen before the transaction and are idempotent: a failed apply is applied again
  await prepareProviders(deps, plan)
  for (const key of plan.enroll) await enrollKey(deps, key, { actor: by.user, configVersion: version })
  const at = deps.now().toISOString()
  await db.transaction().execute(async (trx) => {
    await assertNoRunsOn(trx, plan)
    const flipped = await trx
      .updateTable('config_versions')
      .set({ active: 0 })
      .where('version', '=', base.version)
      .where('active', '=', 1)
      .executeTakeFirst()
    const proposal = await trx
      .updateTable('config_proposals')
      .set({
        state: 'applied',
        applied_by: by.user,
        applied_at: at,
        applied_version: version,
        decided_at: at,
      })
      .where('id', '=', id)
      .where('state', '=', 'approved')
      .executeTakeFirst()
    if ((base.version > 0 && flipped.numUpdatedRows !== 1n) || proposal.numUpdatedRows !== 1n) {
      throw new KeyrotorError(
        'CONFLICT',
        `config proposal ${id}: another change was applied at the same time`,
      )
    }
    await trx
      .insertInto('config_versions')
      .values({
        version,
        hash: row.hash,
        body: row.body,
        source: `proposal ${id}`,
        created_at: at,
        created_by: by.user,
        active: 1,
      })
      .execute()
    await writeChanges(trx, plan, at)
    await deps.audit.append(trx, {
      actor: by.user,
      action: 'config.applied',
      target: `config:v${version}`,
      correlationId,
      reason: row.summary,
      details: { proposalId: id, hash: row.hash, previousVersion: base.version, ...describePlan(plan) },
    })
  })
  return { ...toProposalView(await loadProposal(db, id)), changes: describePlan(plan) }
}

/** The ACTIVE config's changePolicy decides when an approved change may be applied. */
function assertInChangeWindow(active: KeyrotorConfig, now: Date): void {
  const name = active.changePolicy?.window
  const window = name === undefined ? undefined : active.windows[name]
  if (name === undefined || window === undefined || isOpen(window, now)) return
  const next = nextOpening(window, now)
  throw new KeyrotorError(
    'PREFLIGHT_REJECTED',
    `configuration changes are applied only in window ${name} (cron "${window.cron}", ${window.duration}, ${window.timezone}): next opening ${next === null ? 'never' : next.toISOString()}`,
    { details: { nextAllowedAt: next?.toISOString() ?? null } },
  )
}
