import type { ErrorCode, FailureClass } from '../errors.js'
import type { RunState } from '../domain/runs.js'

/** The CLI's exit codes (CONTRACT.md "Exit codes"): the only place they are defined. */
export const EXIT = {
  ok: 0,
  runFailed: 1,
  badInput: 2,
  preflight: 3,
  concurrent: 4,
  halted: 5,
  timeout: 6,
  auth: 7,
  unreachable: 8,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** Exhaustive: a new ErrorCode without an exit code does not compile. */
export const EXIT_FOR_ERROR: Record<ErrorCode, ExitCode> = {
  BAD_REQUEST: EXIT.badInput,
  INVALID_CONFIG: EXIT.badInput,
  UNKNOWN_KEY: EXIT.badInput,
  NOT_FOUND: EXIT.badInput,
  PREFLIGHT_REJECTED: EXIT.preflight,
  CONCURRENT_ROTATION: EXIT.concurrent,
  HALTED: EXIT.halted,
  TIMEOUT: EXIT.timeout,
  UNAUTHENTICATED: EXIT.auth,
  FORBIDDEN: EXIT.auth,
  // refused before the token is even looked at: the address failed to authenticate too often
  RATE_LIMITED: EXIT.auth,
  SELF_APPROVAL: EXIT.auth,
  UNREACHABLE: EXIT.unreachable,
  // the server answered, but its store could not: as safe to rerun as an unreachable server
  STORE_UNAVAILABLE: EXIT.unreachable,
  ILLEGAL_TRANSITION: EXIT.runFailed,
  NOT_VERIFIED: EXIT.runFailed,
  CONFLICT: EXIT.runFailed,
  PARTIAL_EXECUTION: EXIT.runFailed,
  STALE_LEASE: EXIT.runFailed,
  MATERIAL_UNAVAILABLE: EXIT.runFailed,
  PROVIDER_ERROR: EXIT.runFailed,
  PROVIDER_TRANSIENT: EXIT.runFailed,
  DEPENDENCY_NOT_READY: EXIT.runFailed,
  INTERNAL: EXIT.runFailed,
}

export function exitCodeForError(code: ErrorCode): ExitCode {
  return EXIT_FOR_ERROR[code]
}

/** Exhaustive over run states; a failed run is refined by its failure class. */
const EXIT_FOR_STATE: Record<RunState, ExitCode> = {
  succeeded: EXIT.ok,
  failed: EXIT.runFailed,
  halted: EXIT.halted,
  cancelled: EXIT.runFailed,
  rejected: EXIT.runFailed,
  // still going when we stopped waiting: the wait elapsed, the run did not end
  queued: EXIT.timeout,
  running: EXIT.timeout,
  awaiting_approval: EXIT.timeout,
}

export function exitCodeForRun(run: { state: RunState; failure?: { class: FailureClass } | null }): ExitCode {
  // a pre-flight refusal changed nothing, so a scheduler may rerun it (CONTRACT: safe on 3)
  if (run.state === 'failed' && run.failure?.class === 'preflight_rejected') return EXIT.preflight
  return EXIT_FOR_STATE[run.state]
}
