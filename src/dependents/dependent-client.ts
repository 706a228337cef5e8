/** What a dependent answers to a probe (CONTRACT.md "Dependent services"). */
export interface ProbeAnswer {
  key: string
  /** Versions it can decrypt or verify with. */
  accepts: number[]
  /** The version it encrypts or signs with; null for a dependent that only decrypts or verifies. */
  active: number | null
}

export const NOTICE_EVENTS = [
  'key.version.staged',
  'key.version.promoted',
  'key.version.retired',
  'key.version.revoked',
  'key.compromised',
] as const
export type NoticeEvent = (typeof NOTICE_EVENTS)[number]

export interface Notice {
  event: NoticeEvent
  key: string
  version: number
  runId: string
  correlationId: string
  /** ISO time by which the phase that sent it must be done. */
  deadline: string
  /**
   * The provider's own name of the version (PKCS#11 label, KMS key ARN, the hook's id): what a
   * service whose backend keeps the material uses to reach it. Never material.
   */
  providerRef?: string
}

/** How to reach one dependent, as declared in keyrotor.yaml. */
export interface DependentTarget {
  name: string
  key: string
  probe: { http: string } | { exec: string[] }
  notify?: { http: string; secretEnv?: string } | undefined
  critical: boolean
}

/**
 * Talks to dependents. The engine sees only this interface: the real one speaks HTTP and runs
 * exec probes; the benchmark plugs in dependents that live in the same process.
 */
export interface DependentClient {
  /** One probe; throws DEPENDENCY_NOT_READY (retryable) when the dependent cannot be reached or answers badly. */
  probe(target: DependentTarget, signal?: AbortSignal): Promise<ProbeAnswer>
  /** One delivery attempt; throws DEPENDENCY_NOT_READY (retryable) on anything but a 2xx. */
  notify(target: DependentTarget, notice: Notice, signal?: AbortSignal): Promise<void>
}
