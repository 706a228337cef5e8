import type { KeyPolicy } from '../config/schema.js'
import type { VersionState } from '../domain/lifecycle.js'
import type { Phase } from '../domain/phases.js'
import type { RunKind, RunState, Trigger } from '../domain/runs.js'
import type { FailureClass } from '../errors.js'
import { listKeyPartsOf, listKeys, listKeysPage, requireKey, type KeyPage } from '../store/keys-repository.js'
import type { Page } from '../store/keyset-page.js'
import type { Executor } from '../store/database.js'
import { latestRunsOf } from '../store/runs-repository.js'
import type { KeyRow, RunRow } from '../store/tables.js'
import { decodeAccepts, decodePolicy } from '../store/key-columns.js'
import { decodeValidation } from '../store/run-columns.js'

/**
 * A run as every JSON output shows it (CONTRACT.md). The HTTP schema `Run` (src/http/schemas)
 * declares it for the API; the routes' types check that this producer stays inside it.
 */
export interface RunView {
  id: string
  key: string
  kind: RunKind
  state: RunState
  phase: Phase
  fromVersion: number | null
  toVersion: number | null
  correlationId: string
  idempotencyKey: string | null
  trigger: Trigger
  requestedBy: string
  priority: number
  failure: { class: FailureClass; phase: Phase; message: string } | null
  duplicateCount: number
  attempt: number | null
  reason: string | null
  validation: { passed: boolean; checks: { name: string; passed: boolean; detail: string }[] } | null
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
}

export function runView(row: RunRow): RunView {
  return {
    id: row.id,
    key: row.key_id,
    // the store's text columns, written only from these unions
    kind: row.kind,
    state: row.state,
    phase: row.phase,
    fromVersion: row.from_version,
    toVersion: row.to_version,
    correlationId: row.correlation_id,
    idempotencyKey: row.idempotency_key,
    trigger: row.trigger,
    requestedBy: row.requested_by,
    priority: row.priority,
    failure:
      row.failure_class === null
        ? null
        : {
            class: row.failure_class,
            phase: row.failure_phase ?? row.phase,
            message: row.failure_message ?? '',
          },
    duplicateCount: row.duplicate_count,
    attempt: row.attempt,
    reason: row.reason,
    validation: decodeValidation(row),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  }
}

/** A key as every JSON output shows it (CONTRACT.md), with each dependent's last answer (HTTP schema `Key`). */
export interface KeyView {
  id: string
  provider: string
  algorithm: string
  owner: string
  activeVersion: number | null
  aliases: { name: string; version: number }[]
  /** `providerRef`: the provider's own name of the version (label, ARN, hook id); never material. */
  versions: {
    version: number
    state: VersionState
    compromised: boolean
    providerRef: string
    createdAt: string
  }[]
  dependents: {
    name: string
    critical: boolean
    lastProbeAt: string | null
    accepts: number[] | null
    active: number | null
    lastError: string | null
    lastNotice: string | null
    lastNoticeAt: string | null
  }[]
  policy: KeyPolicy
  /** Set while an unexpected transition holds the key: no rotation until `verify` thaws it. */
  frozen: { since: string; reason: string | null } | null
  /** The key's newest run, so a fleet view shows its last outcome without one request per key. */
  lastRun: { id: string; kind: RunKind; state: RunState; createdAt: string } | null
}

export async function keyView(db: Executor, keyId: string): Promise<KeyView> {
  const [view] = await assembleKeys(db, [await requireKey(db, keyId)])
  return view!
}

// keys assembled per batch of ids: few queries per batch, and well under the dialects' parameter limits
const KEYS_PER_BATCH = 500

/** Every key, or one page of them (see `listKeysPage`). */
export async function keyViews(db: Executor, page: KeyPage = {}): Promise<KeyView[]> {
  return (await keyViewPage(db, page)).items
}

/** Every key, or one page of them with where the next page starts (see `listKeysPage`). */
export async function keyViewPage(db: Executor, page: KeyPage = {}): Promise<Page<KeyView>> {
  const { items: rows, nextCursor } =
    page.limit === undefined && page.cursor === undefined && page.search === undefined
      ? { items: await listKeys(db), nextCursor: undefined }
      : await listKeysPage(db, page)
  const views: KeyView[] = []
  for (let i = 0; i < rows.length; i += KEYS_PER_BATCH) {
    views.push(...(await assembleKeys(db, rows.slice(i, i + KEYS_PER_BATCH))))
  }
  return { items: views, nextCursor }
}

async function assembleKeys(db: Executor, rows: readonly KeyRow[]): Promise<KeyView[]> {
  const ids = rows.map((row) => row.id)
  const [parts, lastRuns] = await Promise.all([listKeyPartsOf(db, ids), latestRunsOf(db, ids)])
  return rows.map((row) => {
    const versions = parts.versions.get(row.id) ?? []
    const lastRun = lastRuns.get(row.id)
    return {
      id: row.id,
      provider: row.provider,
      algorithm: row.algorithm,
      owner: row.owner,
      activeVersion: versions.find((v) => v.state === 'active')?.version ?? null,
      aliases: parts.aliases.get(row.id) ?? [],
      versions: versions.map((v) => ({
        version: v.version,
        state: v.state,
        compromised: v.compromised === 1,
        providerRef: v.provider_ref,
        createdAt: v.created_at,
      })),
      dependents: (parts.dependents.get(row.id) ?? []).map((d) => ({
        name: d.name,
        critical: d.critical === 1,
        lastProbeAt: d.last_probe_at,
        accepts: decodeAccepts(d),
        active: d.last_active,
        lastError: d.last_error,
        lastNotice: d.last_notice,
        lastNoticeAt: d.last_notice_at,
      })),
      policy: decodePolicy(row.policy, row.id),
      frozen: row.frozen_at === null ? null : { since: row.frozen_at, reason: row.frozen_reason },
      lastRun:
        lastRun === undefined
          ? null
          : {
              id: lastRun.id,
              kind: lastRun.kind,
              state: lastRun.state,
              createdAt: lastRun.created_at,
            },
    }
  })
}
