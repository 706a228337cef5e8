import type { ProbeAnswer } from '../../dependents/dependent-client.js'
import { expectedProviderState, type VersionState } from '../../domain/lifecycle.js'
import type { KeyProvider, ProviderKeyRef, ProviderVersion } from '../../providers/key-provider.js'
import { listVersions, type DependentObservation } from '../../store/keys-repository.js'
import type { RunRow } from '../../store/tables.js'
import { messageOf } from '../keys/dependent-ops.js'
import type { EngineDeps } from '../engine-deps.js'
import type { ManagedKey } from '../keys/managed-key.js'

/**
 * The comparisons of store, provider and dependents that both post-rotation validation and
 * `verify` make. They take what was read and say what disagrees; reading and recording are the
 * caller's, so a phase journals its probes and `verify` records a verification.
 */
export interface ConsistencyCheck {
  name: string
  passed: boolean
  detail: string
}

/** One version on which store and provider disagree; null means "not there". */
export interface StateMismatch {
  version: number
  store: string | null
  provider: string | null
}

/**
 * Differences explained by a run's own recorded effect, not by anyone outside the engine: a
 * provider version the run created before it could record it (the retry records it), or the
 * version a revoke run disabled at the provider before its checkpoint.
 */
export interface ExplainedEffects {
  createdVersion?: number | null
  revokedVersion?: { version: number; state: 'disabled' | 'destroyed' } | null
}

/** Every version whose provider state is not the one its store state implies. */
export function compareVersionStates(
  stored: readonly { version: number; state: string }[],
  atProvider: readonly Pick<ProviderVersion, 'version' | 'state'>[],
  explained: ExplainedEffects = {},
): StateMismatch[] {
  const provider = new Map(atProvider.map((v) => [v.version, v.state as string]))
  const mismatches: StateMismatch[] = []
  for (const v of stored) {
    const actual = provider.get(v.version) ?? null
    provider.delete(v.version)
    const revoked = explained.revokedVersion
    if (revoked?.version === v.version && v.state === 'retiring' && actual === revoked.state) continue
    // a destroyed version may vanish from its backend for good (KMS deletes the key and its alias
    // when the deletion window ends): nothing is left to use, so nothing is inconsistent
    if (v.state === 'destroyed' && actual === null) continue
    if (actual !== expectedProviderState(v.state as VersionState)) {
      mismatches.push({ version: v.version, store: v.state, provider: actual })
    }
  }
  for (const [version, state] of provider) {
    if (version === explained.createdVersion && state === 'enabled') continue
    mismatches.push({ version, store: null, provider: state })
  }
  return mismatches
}

export function describeMismatch(m: StateMismatch): string {
  if (m.store === null) return `v${m.version} exists at the provider (${m.provider}) but not in the store`
  return `v${m.version} is ${m.store} in the store but ${m.provider ?? 'missing'} at the provider`
}

export function versionStatesCheck(
  mismatches: readonly StateMismatch[],
  storedCount: number,
): ConsistencyCheck {
  return check(
    'version-states',
    mismatches.map(describeMismatch),
    `${storedCount} versions agree with the provider`,
  )
}

/**
 * Every alias agrees between store and provider, and, when `want` is given, points at it
 * (validation wants the new version; verify only wants agreement).
 */
export async function aliasMappingCheck(
  provider: Pick<KeyProvider, 'getAlias'>,
  ref: ProviderKeyRef,
  aliases: readonly { name: string; version: number }[],
  want?: number,
): Promise<ConsistencyCheck> {
  const wrong: string[] = []
  for (const alias of aliases) {
    const atProvider = await provider.getAlias(ref, alias.name)
    if (atProvider !== alias.version || (want !== undefined && alias.version !== want)) {
      wrong.push(`${alias.name} → store v${alias.version}, provider v${atProvider ?? 'none'}`)
    }
  }
  const ok =
    want === undefined
      ? `${aliases.length} aliases agree with the provider`
      : `every alias points at v${want}`
  return check('alias-mapping', wrong, ok)
}

/**
 * Every dependent answered, accepts `version`, and, if it encrypts or signs (`active` not null),
 * uses it.
 */
export function dependentsCheck(
  answers: ReadonlyMap<string, ProbeAnswer | Error>,
  version: number,
): ConsistencyCheck {
  const wrong: string[] = []
  for (const [name, answer] of answers) {
    if (answer instanceof Error) wrong.push(`${name}: ${messageOf(answer)}`)
    else if (!answer.accepts.includes(version)) wrong.push(`${name} does not accept v${version}`)
    else if (answer.active !== null && answer.active !== version)
      wrong.push(`${name} still uses v${answer.active}`)
  }
  return check('dependents', wrong, `${answers.size} dependents accept v${version}, signers use it`)
}

export function check(name: string, wrong: readonly string[], ok: string): ConsistencyCheck {
  return { name, passed: wrong.length === 0, detail: wrong.length === 0 ? ok : wrong.join('; ') }
}

/** What `verify` found on one key; `unexpected` lists version states nobody recorded. */
export interface KeyInspection {
  result: { key: string; passed: boolean; checks: ConsistencyCheck[]; mismatches: string[] }
  unexpected: StateMismatch[]
  observations: DependentObservation[]
}

/** A dependent that does not answer within this is reported unreachable, not waited for. */
const PROBE_TIMEOUT_MS = 10_000

/**
 * Reads one key's store, provider and dependents (one probe each) and compares them: version
 * states, versions unknown to the store, aliases, and dependents on the active version.
 */
export async function inspectKey(
  deps: Pick<EngineDeps, 'db' | 'providers' | 'dependents' | 'now'>,
  key: ManagedKey,
  explained: ExplainedEffects,
): Promise<KeyInspection> {
  const ref = { keyId: key.id, algorithm: key.algorithm }
  const provider = deps.providers.get(key.provider)
  const stored = await listVersions(deps.db, key.id)
  const checks: ConsistencyCheck[] = []
  let unexpected: StateMismatch[] = []
  try {
    unexpected = compareVersionStates(stored, await provider.listVersions(ref), explained)
    checks.push(
      versionStatesCheck(
        unexpected.filter((m) => m.store !== null),
        stored.length,
      ),
    )
    const unknown = unexpected.filter((m) => m.store === null).map(describeMismatch)
    checks.push(check('unknown-versions', unknown, 'the provider holds no version the store does not know'))
  } catch (error) {
    // an unreadable provider fails the check but proves no transition: nothing is frozen
    checks.push(check('version-states', [`the ${key.provider} provider: ${messageOf(error)}`], ''))
  }
  try {
    checks.push(await aliasMappingCheck(provider, ref, key.aliases))
  } catch (error) {
    checks.push(check('alias-mapping', [`the ${key.provider} provider: ${messageOf(error)}`], ''))
  }
  const { answers, observations } = await probeAll(deps, key)
  const active = stored.find((v) => v.state === 'active')
  checks.push(
    active === undefined
      ? check('dependents', ['the store has no active version'], '')
      : dependentsCheck(answers, active.version),
  )
  const mismatches = checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`)
  const result = { key: key.id, passed: mismatches.length === 0, checks, mismatches }
  return { result, unexpected, observations }
}

async function probeAll(deps: Pick<EngineDeps, 'dependents' | 'now'>, key: ManagedKey) {
  const answers = new Map<string, ProbeAnswer | Error>()
  const observations: DependentObservation[] = []
  await Promise.all(
    key.dependents.map(async (target) => {
      const at = () => deps.now().toISOString()
      try {
        const answer = await deps.dependents.probe(target, AbortSignal.timeout(PROBE_TIMEOUT_MS))
        answers.set(target.name, answer)
        observations.push({ keyId: key.id, name: target.name, at: at(), answer })
      } catch (error) {
        answers.set(target.name, error instanceof Error ? error : new Error(String(error)))
        observations.push({ keyId: key.id, name: target.name, at: at(), error: messageOf(error) })
      }
    }),
  )
  return { answers, observations }
}

/**
 * What a run that stopped may have left without recording it, which its retry records: the
 * version it created, or the version a revoke disabled at the provider before its checkpoint.
 */
export function explainedBy(run: RunRow, key: ManagedKey): ExplainedEffects {
  if (run.state === 'succeeded' || run.state === 'halted') return {}
  if (run.kind === 'revoke') {
    if (run.from_version === null) return {}
    const state = key.policy.revoke === 'destroy' ? 'destroyed' : 'disabled'
    return { revokedVersion: { version: run.from_version, state } }
  }
  return { createdVersion: run.to_version }
}
