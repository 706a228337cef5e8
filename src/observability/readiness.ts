/**
 * Conditions that make this instance not ready although it is alive: the store failing calls,
 * log lines being dropped. `/readyz` answers 503 with their reasons while any holds, so a load
 * balancer sends traffic to an instance that can serve it and an operator sees why.
 */
export interface Readiness {
  /** Holds `name` with `reason` until `clear(name)`, or for `forMs` when given (a recent failure). */
  set(name: string, reason: string, forMs?: number): void
  clear(name: string): void
  /** The reasons that hold now, e.g. `["log: disk full, 12 lines dropped"]`. */
  reasons(): string[]
}

export function createReadiness(now: () => number = Date.now): Readiness {
  const conditions = new Map<string, { reason: string; until: number }>()
  return {
    set(name, reason, forMs) {
      conditions.set(name, { reason, until: forMs === undefined ? Infinity : now() + forMs })
    },
    clear(name) {
      conditions.delete(name)
    },
    reasons() {
      const at = now()
      const held: string[] = []
      for (const [name, condition] of conditions) {
        if (condition.until <= at) conditions.delete(name)
        else held.push(`${name}: ${condition.reason}`)
      }
      return held
    },
  }
}
