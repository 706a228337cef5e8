import { setTimeout as sleep } from 'node:timers/promises'
import { isTerminal } from '../domain/runs.js'
import type { RunEventView, RunView } from './api-types.js'
import { exitCodeForRun, EXIT } from './exit-codes.js'
import type { ExitCode } from './exit-codes.js'
import type { Output } from './output.js'
import { renderRun } from './render-run.js'
import type { Session } from './session.js'

export type WaitOutcome = 'ended' | 'timeout' | 'detached'

/**
 * Follows a run until it ends, the timeout elapses or the user interrupts: prints each event as
 * it happens (polling the events endpoint with its cursor), then the summary and, last on
 * stdout, the scheduler's result line. Never cancels the run: interrupting only detaches.
 */
export async function waitForRun(
  session: Session,
  initial: RunView,
  timeoutMs: number | undefined,
): Promise<ExitCode> {
  const { out, ctx } = session
  const api = session.api()
  const detach = new AbortController()
  const stopListening = ctx.onInterrupt(() => detach.abort())
  const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs
  let run = initial
  let cursor = 0
  let outcome: WaitOutcome = 'ended'
  try {
    for (;;) {
      // state first, events second: once the state is terminal, this page holds every event
      run = (await api.call('getRun', { params: { id: run.id } }, { signal: detach.signal })).body
      const page = (
        await api.call(
          'listRunEvents',
          { params: { id: run.id }, query: { after: cursor } },
          { signal: detach.signal },
        )
      ).body
      for (const event of page.events) out.progress(eventLine(event))
      cursor = page.cursor
      if (isTerminal(run.state)) break
      if (Date.now() >= deadline) {
        outcome = 'timeout'
        break
      }
      await sleep(Math.min(ctx.pollIntervalMs, Math.max(0, deadline - Date.now())), undefined, {
        signal: detach.signal,
      })
    }
  } catch (error) {
    if (!detach.signal.aborted) throw error
    outcome = 'detached'
  } finally {
    stopListening()
  }
  return finish(out, run, outcome)
}

function finish(out: Output, run: RunView, outcome: WaitOutcome): ExitCode {
  if (outcome === 'detached') out.note(`detached from run ${run.id}; it goes on`)
  if (outcome === 'timeout') out.note(`stopped waiting for run ${run.id}: the timeout elapsed; it goes on`)
  // a run still going when we stop waiting exits 6, whatever the reason we stopped
  const code =
    outcome === 'ended' ? exitCodeForRun(run) : isTerminal(run.state) ? exitCodeForRun(run) : EXIT.timeout
  out.emit(run, () => renderRun(run))
  writeResultLine(out, run.state.toUpperCase(), run.id, code)
  return code
}

/** `KEYROTOR-RESULT=<STATE> run=<id> exit=<code>`: last on stdout, on stderr under --json. */
export function writeResultLine(out: Output, state: string, runId: string, code: number): void {
  const line = `KEYROTOR-RESULT=${state} run=${runId} exit=${code}`
  if (out.json) out.note(line)
  else out.progress(line)
}

export function eventLine(event: RunEventView): string {
  return [event.at, event.phase ?? '-', event.type, event.message].join('  ').trimEnd()
}
