import type { KeyPolicy } from '../../config/schema.js'
import type { Algorithm } from '../../domain/algorithms.js'
import { parseDuration } from '../../domain/duration.js'
import type { DependentTarget } from '../../dependents/dependent-client.js'
import { listAliases, listDependents, requireKey } from '../../store/keys-repository.js'
import type { Executor } from '../../store/database.js'
import { decodeNotify, decodePolicy, decodeProbe } from '../../store/key-columns.js'

/** A key as the engine works with it: its row, policy in milliseconds, aliases and dependents. */
export interface ManagedKey {
  id: string
  /** The provider instance: `local` or a name under `providers:`. */
  provider: string
  algorithm: Algorithm
  owner: string
  policy: KeyPolicy
  gracePeriodMs: number
  phaseTimeoutMs: number
  aliases: { name: string; version: number }[]
  dependents: DependentTarget[]
}

export async function loadManagedKey(db: Executor, keyId: string): Promise<ManagedKey> {
  const [row, aliases, dependents] = await Promise.all([
    requireKey(db, keyId),
    listAliases(db, keyId),
    listDependents(db, keyId),
  ])
  const policy = decodePolicy(row.policy, row.id)
  return {
    id: row.id,
    provider: row.provider,
    algorithm: row.algorithm as Algorithm,
    owner: row.owner,
    policy,
    gracePeriodMs: parseDuration(policy.gracePeriod),
    phaseTimeoutMs: parseDuration(policy.phaseTimeout),
    aliases,
    dependents: dependents.map((d) => ({
      name: d.name,
      key: keyId,
      probe: decodeProbe(d),
      notify: decodeNotify(d),
      critical: d.critical === 1,
    })),
  }
}
