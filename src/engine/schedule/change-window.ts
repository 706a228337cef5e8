import { iso, lastClosing, rotationAllowedAt, type RotationDecision } from '../../domain/windows.js'
import { KeyrotorError } from '../../errors.js'
import type { KeyrotorConfig } from '../../config/schema.js'
import { loadActiveConfig } from '../../store/config-versions-repository.js'
import type { Executor } from '../../store/database.js'
import { decodePolicy } from '../../store/key-columns.js'

// A run that waits for a window that will never open (none within the search horizon, or a
// window name the config lost) looks again this often: a config change may fix it meanwhile.
const RECHECK_MS = 3_600_000

/**
 * The change-window decision for a key at `at`, from the active configuration: its windows, its
 * blackouts and the key's `policy.window` (the stored policy when the key is not in it).
 */
export async function changeWindowDecision(
  db: Executor,
  keyId: string,
  at: Date,
): Promise<{ decision: RotationDecision; windowName: string | undefined }> {
  const config = await loadActiveConfig(db)
  if (config === null) return { decision: { allowed: true, closesAt: null }, windowName: undefined }
  const inConfig = keysById(config).get(keyId)
  const windowName = inConfig === undefined ? await storedWindow(db, keyId) : inConfig.policy.window
  const decision = rotationAllowedAt({
    keyId,
    windowName,
    windows: config.windows,
    blackouts: config.blackouts,
    at,
  })
  return { decision, windowName }
}

/** Pre-flight: refuses (PREFLIGHT_REJECTED, 422 / exit 3) a rotation outside its window or in a blackout. */
export async function assertInChangeWindow(db: Executor, keyId: string, at: Date): Promise<void> {
  const { decision } = await changeWindowDecision(db, keyId, at)
  if (decision.allowed) return
  throw new KeyrotorError('PREFLIGHT_REJECTED', decision.reason, {
    details: { nextAllowedAt: decision.nextAllowedAt === null ? null : iso(decision.nextAllowedAt) },
  })
}

/**
 * Before promote: null when the run may promote now, otherwise until when it waits and why
 * ("window W closed at …; waits for the next opening at …").
 */
export async function promoteWait(
  db: Executor,
  keyId: string,
  at: Date,
): Promise<{ until: Date; detail: string } | null> {
  const { decision, windowName } = await changeWindowDecision(db, keyId, at)
  if (decision.allowed) return null
  const until = decision.nextAllowedAt ?? new Date(at.getTime() + RECHECK_MS)
  const config = await loadActiveConfig(db)
  const window = windowName === undefined ? undefined : config?.windows[windowName]
  const closed = window === undefined ? null : lastClosing(window, at)
  const detail =
    closed !== null && decision.nextAllowedAt !== null
      ? `window ${windowName} closed at ${iso(closed)}; waits for the next opening at ${iso(until)}`
      : `${decision.reason}; waits until ${iso(until)}`
  return { until, detail }
}

// Each phase gate before promote looks its key up in the active config: a scan of the key list
// made that cost grow with the fleet. A parsed config is frozen and shared, so its index is kept
// beside it for as long as it lives.
const indexes = new WeakMap<KeyrotorConfig, Map<string, KeyrotorConfig['keys'][number]>>()

function keysById(config: KeyrotorConfig): Map<string, KeyrotorConfig['keys'][number]> {
  let index = indexes.get(config)
  if (index === undefined) {
    index = new Map(config.keys.map((k) => [k.id, k]))
    indexes.set(config, index)
  }
  return index
}

async function storedWindow(db: Executor, keyId: string): Promise<string | undefined> {
  const row = await db.selectFrom('keys').select('policy').where('id', '=', keyId).executeTakeFirst()
  if (row === undefined) return undefined
  return decodePolicy(row.policy, keyId).window
}
