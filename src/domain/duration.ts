import { KeyrotorError } from '../errors.js'

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** Parses "500ms", "30s", "10m", "6h", "90d", "2w" (or a combination such as "1h30m") into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim()
  const pattern = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g
  let total = 0
  let consumed = 0
  for (const match of trimmed.matchAll(pattern)) {
    if (match.index !== consumed) break
    total += Number(match[1]) * (UNITS[match[2] as string] as number)
    consumed += match[0].length
  }
  if (trimmed.length === 0 || consumed !== trimmed.length) {
    throw new KeyrotorError('BAD_REQUEST', `"${text}" is not a duration (use e.g. 30s, 10m, 6h, 90d)`)
  }
  return total
}

export function isDuration(text: string): boolean {
  try {
    parseDuration(text)
    return true
  } catch {
    return false
  }
}
