import type { RunView } from './api-types.js'
import { cell, table } from './output.js'

/** One line per run, for `rotate` without --wait and for lists. */
export function runLine(run: RunView): string {
  return `run ${run.id} ${run.state} key=${run.key} correlation=${run.correlationId}`
}

/** The human summary of one run: what, where it stands, why it failed, how it validated. */
export function renderRun(run: RunView): string[] {
  const versions = run.toVersion === null ? '' : ` v${run.fromVersion ?? '-'}→v${run.toVersion}`
  const lines = [
    runLine(run),
    `  kind ${run.kind}${versions}, phase ${run.phase ?? '-'}, trigger ${run.trigger}, requested by ${cell(run.requestedBy)}`,
    `  created ${run.createdAt}, started ${cell(run.startedAt)}, finished ${cell(run.finishedAt)}`,
  ]
  if (run.idempotencyKey) {
    lines.push(`  idempotency key ${run.idempotencyKey} (duplicates suppressed: ${run.duplicateCount})`)
  }
  if (run.attempt !== undefined && run.attempt !== null) lines.push(`  attempt ${run.attempt}`)
  if (run.reason) lines.push(`  reason: ${run.reason}`)
  if (run.failure) {
    lines.push(
      `  failure: class ${run.failure.class}, phase ${cell(run.failure.phase)}: ${run.failure.message}`,
    )
  }
  if (run.validation) {
    lines.push(`  validation ${run.validation.passed ? 'passed' : 'FAILED'}:`)
    for (const check of run.validation.checks) {
      lines.push(
        `    ${check.passed ? 'ok  ' : 'FAIL'} ${check.name}${check.detail ? `: ${check.detail}` : ''}`,
      )
    }
  }
  return lines
}

export function runTable(runs: readonly RunView[]): string[] {
  if (runs.length === 0) return ['no runs']
  return table(
    ['ID', 'KEY', 'KIND', 'STATE', 'PHASE', 'VERSIONS', 'TRIGGER', 'CREATED'],
    runs.map((run) => [
      run.id,
      run.key,
      run.kind,
      run.state,
      run.phase,
      run.toVersion === null ? null : `${run.fromVersion ?? '-'}→${run.toVersion}`,
      run.trigger,
      run.createdAt,
    ]),
  )
}
