import { randomBytes, randomUUID } from 'node:crypto'

/** Run ids sort by creation time: `run_` + base36 milliseconds + 8 random hex digits. */
export function newRunId(now: Date): string {
  return `run_${now.getTime().toString(36)}${randomBytes(4).toString('hex')}`
}

export function newCorrelationId(): string {
  return randomUUID()
}
