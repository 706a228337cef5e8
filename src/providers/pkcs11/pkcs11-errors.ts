import pkcs11js from 'pkcs11js'
import { KeyrotorError } from '../../errors.js'

/** CKR_* names by value, to name a failure the way the token's documentation does. */
const CKR_NAMES = new Map<number, string>(
  Object.entries(pkcs11js)
    .filter(([name, value]) => name.startsWith('CKR_') && typeof value === 'number')
    .map(([name, value]) => [value as number, name]),
)

/** The CKR_* value of a failed PKCS#11 call, or null for any other error. */
export function ckrOf(error: unknown): number | null {
  return error instanceof pkcs11js.Pkcs11Error ? error.code : null
}

export function ckrName(error: unknown): string {
  const code = ckrOf(error)
  if (code === null) return error instanceof Error ? error.message : String(error)
  return CKR_NAMES.get(code) ?? `CKR 0x${code.toString(16)}`
}

/**
 * Failures of the token or the module rather than of the request: the session pool is thrown
 * away (and the module re-initialized) and the call tried once more; if it still fails, the
 * operation is PROVIDER_TRANSIENT, which the engine retries with backoff.
 */
const RECOVERABLE = new Set<number>([
  pkcs11js.CKR_SESSION_HANDLE_INVALID,
  pkcs11js.CKR_SESSION_CLOSED,
  pkcs11js.CKR_SESSION_COUNT,
  pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED,
  pkcs11js.CKR_USER_NOT_LOGGED_IN,
  pkcs11js.CKR_DEVICE_REMOVED,
  pkcs11js.CKR_DEVICE_ERROR,
  pkcs11js.CKR_DEVICE_MEMORY,
  pkcs11js.CKR_TOKEN_NOT_PRESENT,
  pkcs11js.CKR_GENERAL_ERROR,
])

export function isRecoverable(error: unknown): boolean {
  const code = ckrOf(error)
  return code !== null && RECOVERABLE.has(code)
}

/** A PKCS#11 failure as a coded error naming the operation; KeyrotorErrors pass through. */
export function toKeyrotorError(error: unknown, operation: string): KeyrotorError {
  if (error instanceof KeyrotorError) return error
  if (isRecoverable(error)) {
    return new KeyrotorError('PROVIDER_TRANSIENT', `pkcs11 ${operation} failed: ${ckrName(error)}`, {
      retryable: true,
      cause: error,
    })
  }
  return new KeyrotorError('PROVIDER_ERROR', `pkcs11 ${operation} failed: ${ckrName(error)}`, {
    cause: error,
  })
}
