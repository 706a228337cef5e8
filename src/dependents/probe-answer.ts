import { KeyrotorError } from '../errors.js'
import type { DependentTarget, ProbeAnswer } from './dependent-client.js'

/** A bad answer is the dependent's problem, and may go away: retryable, never a secret in it. */
export function notReady(target: DependentTarget, problem: string, cause?: unknown): KeyrotorError {
  return new KeyrotorError('DEPENDENCY_NOT_READY', `dependent "${target.name}" ${problem}`, {
    retryable: true,
    details: { dependent: target.name, key: target.key },
    cause,
  })
}

function isVersion(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0
}

/**
 * Checks a probe answer strictly: the engine decides from `accepts` and `active` whether a version
 * may be promoted or revoked, so a loose reading (a string "3", a missing field) must not pass.
 */
export function parseProbeAnswer(target: DependentTarget, raw: unknown): ProbeAnswer {
  const bad = (what: string) => notReady(target, `answered its probe badly: ${what}`)
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw bad(`expected a JSON object, got ${Array.isArray(raw) ? 'an array' : describe(raw)}`)
  }
  const answer = raw as Record<string, unknown>
  if (answer.key !== target.key) {
    throw bad(`"key" is ${describe(answer.key)}, expected "${target.key}"`)
  }
  const accepts = answer.accepts
  if (!Array.isArray(accepts)) throw bad(`"accepts" is ${describe(accepts)}, expected an array of versions`)
  const wrong = accepts.findIndex((v) => !isVersion(v))
  if (wrong >= 0) throw bad(`"accepts" holds ${describe(accepts[wrong])}, expected positive integers only`)
  const active = answer.active
  if (active !== null && !isVersion(active)) {
    throw bad(`"active" is ${describe(active)}, expected a positive integer or null`)
  }
  const versions = [...new Set(accepts as number[])].sort((a, b) => a - b)
  return { key: target.key, accepts: versions, active }
}

/** A short, safe rendering of an unexpected value for an error message. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing'
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value
}
