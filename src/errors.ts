/**
 * The one error type of keyrotor. Services throw a code; only http/ maps a code to a status and
 * only cli/ maps it to an exit code, each through an exhaustive record.
 */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'INVALID_CONFIG',
  'UNKNOWN_KEY',
  'NOT_FOUND',
  'ILLEGAL_TRANSITION',
  'PREFLIGHT_REJECTED',
  'CONCURRENT_ROTATION',
  'HALTED',
  'NOT_VERIFIED',
  'SELF_APPROVAL',
  'CONFLICT',
  /** A phase found a state that is neither its before nor its after: the run halts everything. */
  'PARTIAL_EXECUTION',
  'STALE_LEASE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'MATERIAL_UNAVAILABLE',
  'PROVIDER_ERROR',
  'PROVIDER_TRANSIENT',
  'DEPENDENCY_NOT_READY',
  'TIMEOUT',
  'UNREACHABLE',
  /** The store cannot read or write now (database unreachable, disk full, damaged file): retry later. */
  'STORE_UNAVAILABLE',
  'INTERNAL',
] as const

export type ErrorCode = (typeof ERROR_CODES)[number]

/** Why a run failed (DESIGN §4.5). Every failed run records exactly one. */
export const FAILURE_CLASSES = [
  'preflight_rejected',
  'dependency_not_ready',
  'timeout',
  'provider_transient',
  'provider_error',
  'state_inconsistency',
  'security',
  'internal',
] as const

export type FailureClass = (typeof FAILURE_CLASSES)[number]

export class KeyrotorError extends Error {
  override readonly name = 'KeyrotorError'
  readonly code: ErrorCode
  readonly retryable: boolean
  /** Extra, non-secret facts for the problem body (e.g. the existing run's id). */
  readonly details: Record<string, unknown> | undefined

  constructor(
    code: ErrorCode,
    message: string,
    options: { retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.retryable = options.retryable ?? false
    this.details = options.details
  }
}

export function isKeyrotorError(error: unknown, code?: ErrorCode): error is KeyrotorError {
  return error instanceof KeyrotorError && (code === undefined || error.code === code)
}

/** The failure class a phase error is recorded under when it fails a run. */
export function failureClassOf(error: unknown): FailureClass {
  if (!(error instanceof KeyrotorError)) return 'internal'
  switch (error.code) {
    case 'PREFLIGHT_REJECTED':
    case 'HALTED':
    case 'UNKNOWN_KEY':
      return 'preflight_rejected'
    case 'DEPENDENCY_NOT_READY':
      return 'dependency_not_ready'
    case 'TIMEOUT':
      return 'timeout'
    case 'PROVIDER_TRANSIENT':
      return 'provider_transient'
    case 'PROVIDER_ERROR':
      return 'provider_error'
    case 'ILLEGAL_TRANSITION':
    case 'CONFLICT':
    case 'PARTIAL_EXECUTION':
      return 'state_inconsistency'
    case 'FORBIDDEN':
    case 'UNAUTHENTICATED':
    case 'RATE_LIMITED':
    case 'SELF_APPROVAL':
      return 'security'
    default:
      return 'internal'
  }
}
