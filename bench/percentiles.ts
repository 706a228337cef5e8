export interface Percentiles {
  p50: number
  p99: number
  count: number
}

/** Nearest-rank p50 and p99 of durations in milliseconds, rounded to 0.01 ms. */
export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => {
    if (sorted.length === 0) return 0
    const v = sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0
    return Math.round(v * 100) / 100
  }
  return { p50: at(0.5), p99: at(0.99), count: sorted.length }
}
