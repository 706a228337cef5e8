import type { Kysely } from 'kysely'
import { parseDuration } from '../domain/duration.js'
import { decodePolicy } from '../store/key-columns.js'
import type { Database } from '../store/tables.js'

/** How old one key's active version is, and its rotation period when it has one. */
export interface KeyAge {
  key: string
  ageSeconds: number
  rotationPeriodSeconds: number | null
}

/**
 * The age of every key's active version, from the store: the gauges are computed on scrape, so
 * every instance on a shared database reports the same values whoever rotated.
 */
export async function readKeyAges(db: Kysely<Database>, now: Date = new Date()): Promise<KeyAge[]> {
  const rows = await db
    .selectFrom('keys')
    .innerJoin('key_versions', 'key_versions.key_id', 'keys.id')
    .select(['keys.id as key', 'keys.policy as policy', 'key_versions.created_at as since'])
    .where('key_versions.state', '=', 'active')
    .orderBy('keys.id')
    .execute()
  return rows.map((row) => ({
    key: row.key,
    ageSeconds: Math.max(0, (now.getTime() - Date.parse(row.since)) / 1000),
    rotationPeriodSeconds: periodOf(row.policy, row.key),
  }))
}

/** A key past its period is one the schedule (or the external scheduler) has not kept up with. */
export function pastRotationPeriod(ages: readonly KeyAge[]): number {
  return ages.filter((a) => a.rotationPeriodSeconds !== null && a.ageSeconds > a.rotationPeriodSeconds).length
}

// a damaged policy must not fail the scrape: the key's age is still worth reporting
function periodOf(policy: string, keyId: string): number | null {
  try {
    const period = decodePolicy(policy, keyId).rotationPeriod
    return period === undefined ? null : parseDuration(period) / 1000
  } catch {
    return null
  }
}
