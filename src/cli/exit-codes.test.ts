import { describe, expect, it } from 'vitest'
import { ERROR_CODES, FAILURE_CLASSES } from '../errors.js'
import type { ErrorCode } from '../errors.js'
import { RUN_STATES } from '../domain/runs.js'
import type { RunState } from '../domain/runs.js'
import { EXIT, EXIT_FOR_ERROR, exitCodeForError, exitCodeForRun } from './exit-codes.js'

// CONTRACT.md "Exit codes", written out again so a change to the table must change this test too
const CONTRACT_EXIT: Record<ErrorCode, number> = {
  BAD_REQUEST: 2,
  INVALID_CONFIG: 2,
  UNKNOWN_KEY: 2,
  NOT_FOUND: 2,
  PREFLIGHT_REJECTED: 3,
  CONCURRENT_ROTATION: 4,
  HALTED: 5,
  TIMEOUT: 6,
  UNAUTHENTICATED: 7,
  FORBIDDEN: 7,
  RATE_LIMITED: 7,
  SELF_APPROVAL: 7,
  UNREACHABLE: 8,
  STORE_UNAVAILABLE: 8,
  ILLEGAL_TRANSITION: 1,
  NOT_VERIFIED: 1,
  CONFLICT: 1,
  PARTIAL_EXECUTION: 1,
  STALE_LEASE: 1,
  MATERIAL_UNAVAILABLE: 1,
  PROVIDER_ERROR: 1,
  PROVIDER_TRANSIENT: 1,
  DEPENDENCY_NOT_READY: 1,
  INTERNAL: 1,
}

describe('exit codes', () => {
  it('defines the nine exit codes of the contract, 0 to 8', () => {
    expect(Object.values(EXIT).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8])
  })

  it.each(ERROR_CODES.map((code) => [code, CONTRACT_EXIT[code]] as const))(
    'maps error %s to exit %i',
    (code, exit) => {
      expect(exitCodeForError(code)).toBe(exit)
    },
  )

  it('maps every error code and nothing else', () => {
    expect(Object.keys(EXIT_FOR_ERROR).sort()).toEqual([...ERROR_CODES].sort())
  })

  const byState: Record<RunState, number> = {
    succeeded: 0,
    failed: 1,
    halted: 5,
    cancelled: 1,
    rejected: 1,
    queued: 6,
    running: 6,
    awaiting_approval: 6,
  }
  it.each(RUN_STATES.map((state) => [state, byState[state]] as const))(
    'exits a %s run with %i',
    (state, exit) => {
      expect(exitCodeForRun({ state, failure: null })).toBe(exit)
    },
  )

  it('exits 3 for a run that pre-flight refused, and 1 for every other failure class', () => {
    for (const failureClass of FAILURE_CLASSES) {
      const exit = exitCodeForRun({ state: 'failed', failure: { class: failureClass } })
      expect(exit).toBe(failureClass === 'preflight_rejected' ? 3 : 1)
    }
  })
})
