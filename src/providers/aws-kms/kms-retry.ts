import { isTransient, toKeyrotorError } from './kms-errors.js'

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number
  /** The first wait; each next one doubles, with full jitter. */
  baseDelayMs: number
  maxDelayMs: number
  sleep: (ms: number) => Promise<void>
}

const DEFAULT_POLICY: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}

/**
 * Sends KMS commands, retrying throttling, 5xx and network failures with exponential backoff;
 * past the last try they are PROVIDER_TRANSIENT (retryable: the run is retried later), any other
 * failure is PROVIDER_ERROR at once. NotFoundException and AlreadyExistsException are left to the
 * caller, which reads them as answers, not failures.
 */
/** Sends one request (a closure over `client.send`) with the retry policy; names `operation` in errors. */
export type KmsCall = <Output>(operation: string, send: () => Promise<Output>) => Promise<Output>

export function createKmsCaller(overrides: Partial<RetryPolicy> = {}): KmsCall {
  const policy = { ...DEFAULT_POLICY, ...overrides }
  return async function call<Output>(operation: string, send: () => Promise<Output>): Promise<Output> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await send()
      } catch (error) {
        const name = (error as { name?: string }).name
        if (name === 'NotFoundException' || name === 'AlreadyExistsException') throw error
        if (!isTransient(error) || attempt >= policy.attempts) throw toKeyrotorError(error, operation)
        const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1))
        await policy.sleep(Math.random() * ceiling)
      }
    }
  }
}
