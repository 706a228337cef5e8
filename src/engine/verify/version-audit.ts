import type { Transaction } from 'kysely'
import { listVersions } from '../../store/keys-repository.js'
import type { Executor } from '../../store/database.js'
import type { Database, KeyVersionRow, RunRow } from '../../store/tables.js'
import { decodeAuditDetails } from '../../store/audit-columns.js'
import { check, type ConsistencyCheck } from './consistency-checks.js'
import { ENGINE_ACTOR } from '../../domain/actors.js'
import type { EngineDeps } from '../engine-deps.js'

/** The audit action of every change of a version's state or compromised flag. */
export const VERSION_CHANGED = 'key.version.changed'

interface VersionFacts {
  state: string
  compromised: boolean
}

/**
 * Runs `write` (a phase's store changes) and audits, in the same transaction, every version whose
 * state or compromised flag it changed. The audit chain then holds each version's history, which
 * `verify --all` holds the store to: a consistent edit of the store (a disabled version made
 * active again, in every table that says so) shows as a store that disagrees with its own log.
 */
export async function withVersionsAudited(
  trx: Transaction<Database>,
  audit: Pick<EngineDeps, 'audit'>['audit'],
  run: RunRow,
  write: (trx: Transaction<Database>) => Promise<void>,
): Promise<void> {
  const before = new Map((await listVersions(trx, run.key_id)).map((v) => [v.version, factsOf(v)]))
  await write(trx)
  for (const row of await listVersions(trx, run.key_id)) {
    const was = before.get(row.version)
    const now = factsOf(row)
    if (was?.state === now.state && was.compromised === now.compromised) continue
    await audit.append(trx, {
      actor: ENGINE_ACTOR,
      action: VERSION_CHANGED,
      target: run.key_id,
      correlationId: run.correlation_id,
      details: { version: row.version, from: was?.state ?? null, ...now, runId: run.id },
    })
  }
}

/**
 * Each stored version against the last state the audit log recorded for it (`key.enrolled` is
 * v1 active). A key with no audited history at all (made before its versions were audited, or
 * by hand in a test) has nothing to be compared with and passes, saying so.
 */
export async function auditedStatesCheck(db: Executor, keyId: string): Promise<ConsistencyCheck> {
  const records = await db
    .selectFrom('audit_events')
    .select(['action', 'details'])
    .where('target', '=', keyId)
    .where('action', 'in', ['key.enrolled', VERSION_CHANGED])
    .orderBy('seq')
    .execute()
  if (records.length === 0) return check('audited-states', [], 'no audited version history to compare with')
  const audited = new Map<number, VersionFacts>()
  for (const record of records) {
    if (record.action === 'key.enrolled') {
      audited.clear()
      audited.set(1, { state: 'active', compromised: false })
      continue
    }
    const details = decodeAuditDetails(record.details) ?? {}
    if (typeof details.version === 'number' && typeof details.state === 'string') {
      audited.set(details.version, { state: details.state, compromised: details.compromised === true })
    }
  }
  const wrong: string[] = []
  const stored = await listVersions(db, keyId)
  for (const row of stored) {
    const expected = audited.get(row.version)
    const actual = factsOf(row)
    if (expected === undefined)
      wrong.push(`v${row.version} is ${actual.state} in the store, but no change of it was audited`)
    else if (expected.state !== actual.state || expected.compromised !== actual.compromised) {
      wrong.push(
        `v${row.version} is ${describe(actual)} in the store, but the audit log last recorded ${describe(expected)}`,
      )
    }
  }
  for (const version of audited.keys()) {
    if (!stored.some((row) => row.version === version))
      wrong.push(`v${version} is audited but gone from the store`)
  }
  return check('audited-states', wrong, `${stored.length} versions as the audit log last recorded them`)
}

function factsOf(row: KeyVersionRow): VersionFacts {
  return { state: row.state, compromised: Number(row.compromised) === 1 }
}

function describe(facts: VersionFacts): string {
  return facts.compromised ? `${facts.state} (compromised)` : facts.state
}
