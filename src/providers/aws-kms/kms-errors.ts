import { KeyrotorError } from '../../errors.js'

/** What the SDK's errors carry that decides how keyrotor treats them. */
interface SdkError {
  name?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
  $retryable?: unknown
}

/** Throttling, KMS's own failures and the network: worth trying again later. */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'LimitExceededException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
])

export function errorName(error: unknown): string {
  const e = error as SdkError
  return e.name ?? 'Error'
}

export function isTransient(error: unknown): boolean {
  const e = error as SdkError
  const status = e.$metadata?.httpStatusCode
  const code = (error as { code?: string }).code
  return (
    TRANSIENT_NAMES.has(errorName(error)) ||
    (code !== undefined && TRANSIENT_NAMES.has(code)) ||
    (status !== undefined && status >= 500) ||
    e.$retryable !== undefined
  )
}

export function isNotFound(error: unknown): boolean {
  return errorName(error) === 'NotFoundException'
}

/** A KMS failure as a coded error naming the operation (KMS messages hold ids, never material). */
export function toKeyrotorError(error: unknown, operation: string): KeyrotorError {
  if (error instanceof KeyrotorError) return error
  const detail = `${errorName(error)}: ${(error as SdkError).message ?? ''}`.slice(0, 500)
  if (isTransient(error)) {
    return new KeyrotorError('PROVIDER_TRANSIENT', `aws-kms ${operation} failed: ${detail}`, {
      retryable: true,
      cause: error,
    })
  }
  return new KeyrotorError('PROVIDER_ERROR', `aws-kms ${operation} failed: ${detail}`, { cause: error })
}
