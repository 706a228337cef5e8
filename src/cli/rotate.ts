import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Command } from 'commander'
import { KeyrotorError, isKeyrotorError } from '../errors.js'
import type { OperationInput } from '../client/index.js'
import type { RunView } from './api-types.js'
import { EXIT } from './exit-codes.js'
import { renderRun, runLine } from './render-run.js'
import { durationOption, integerOption, leaf, reportError, str } from './session.js'
import type { Act, Session } from './session.js'
import { waitForRun, writeResultLine } from './wait-for-run.js'

export function registerRotate(program: Command, act: Act): void {
  leaf(program, 'rotate <key>', 'start a rotation; with --wait stream its phases and exit by its outcome')
    .option('--wait', 'follow the run until it ends')
    .addOption(durationOption('--timeout <duration>', 'with --wait: stop waiting after this long (exit 6)'))
    .option('--idempotency-key <key>', 'a repeated trigger with the same key attaches to the existing run')
    .addOption(integerOption('--attempt <n>', "the scheduler's attempt number (Control-M %%RUNCOUNT)"))
    .option('--reason <text>', 'why (required with --emergency)')
    .option('--emergency', 'emergency rotation: waits for a security approval')
    .action(
      act(async (session, [key]) => {
        if (session.opts.emergency === true && !str(session.opts, 'reason')) {
          throw new KeyrotorError('BAD_REQUEST', 'an emergency rotation needs --reason')
        }
        return startRun(
          session,
          { operation: 'startRotation', key: key ?? '' },
          {
            reason: str(session.opts, 'reason'),
            emergency: session.opts.emergency === true ? true : undefined,
            attempt: session.opts.attempt,
          },
        )
      }),
    )

  leaf(program, 'forward-correct <key>', 'start the approved recovery run after partial execution')
    .requiredOption('--reason <text>', 'why the key must be driven forward')
    .option('--wait', 'follow the run until it ends')
    .addOption(durationOption('--timeout <duration>', 'with --wait: stop waiting after this long (exit 6)'))
    .option('--idempotency-key <key>', 'a repeated trigger with the same key attaches to the existing run')
    .action(
      act(async (session, [key]) =>
        startRun(
          session,
          { operation: 'requestForwardCorrection', key: key ?? '' },
          {
            reason: str(session.opts, 'reason'),
          },
        ),
      ),
    )
}

/** The operation that starts the run, and on which key. */
interface Trigger {
  operation: 'startRotation' | 'requestForwardCorrection'
  key: string
}

/** POSTs a run trigger; prints the run, or follows it with --wait. Shared by rotate and forward-correct. */
async function startRun(
  session: Session,
  trigger: Trigger,
  fields: Record<string, unknown>,
): Promise<number> {
  const { out, opts } = session
  const wait = opts.wait === true
  // with --wait a key is generated when none is given, so re-sending after a dropped connection attaches
  const idempotencyKey = str(opts, 'idempotencyKey') ?? (wait ? `cli-${randomUUID()}` : undefined)
  let response: { status: number; body: RunView }
  try {
    response = await postTrigger(session, trigger, fields, idempotencyKey)
  } catch (error) {
    const code = reportError(out, error)
    if (wait) {
      const state = isKeyrotorError(error) ? error.code : 'INTERNAL'
      const runId = isKeyrotorError(error) ? error.details?.runId : undefined
      writeResultLine(out, state, typeof runId === 'string' ? runId : '-', code)
    }
    return code
  }
  const run = response.body
  if (response.status === 200) {
    out.note(
      `attached to existing run ${run.id} (idempotency key ${run.idempotencyKey ?? idempotencyKey ?? '-'})`,
    )
  }
  if (!wait) {
    out.emit(run, () => runLine(run))
    return EXIT.ok
  }
  out.progress(renderRun(run)[0] ?? runLine(run))
  return waitForRun(session, run, opts.timeout as number | undefined)
}

/**
 * POSTs the trigger. A scheduler reruns a job refused by pre-flight (exit 3) with the same
 * idempotency key; attaching to the refused run would only exit 3 again for ever. That run
 * changed nothing, so the rerun starts a fresh one under the next link of the key (`K#2`,
 * `K#3`, …). Every invocation walks the links in the same order and stops at the first run
 * that was not refused, so a rotation that passed pre-flight is still found and attached to:
 * reruns never start a second rotation.
 */
async function postTrigger(
  session: Session,
  trigger: Trigger,
  fields: Record<string, unknown>,
  idempotencyKey: string | undefined,
): Promise<{ status: number; body: RunView }> {
  let response = await postWithReconnect(
    session,
    trigger,
    { ...fields, idempotencyKey },
    idempotencyKey !== undefined,
  )
  for (let link = 2; idempotencyKey !== undefined && response.status === 200; link++) {
    const run = response.body
    if (run.state !== 'failed' || run.failure?.class !== 'preflight_rejected') break
    const next = `${idempotencyKey}#${link}`
    session.out.note(`run ${run.id} was refused by pre-flight and changed nothing; trying again as ${next}`)
    response = await postWithReconnect(session, trigger, { ...fields, idempotencyKey: next }, true)
  }
  return response
}

/** Only a trigger carrying an idempotency key is safe to send twice; others get one try. */
async function postWithReconnect(
  session: Session,
  trigger: Trigger,
  body: Record<string, unknown>,
  repeatable: boolean,
): Promise<{ status: number; body: RunView }> {
  const attempts = repeatable ? 3 : 1
  for (let attempt = 1; ; attempt++) {
    try {
      // the fields come from the command's options; the server checks them (400 naming the field)
      const input = { params: { key: trigger.key }, body: body as OperationInput<'startRotation'>['body'] }
      return trigger.operation === 'startRotation'
        ? await session.api().call('startRotation', input)
        : await session.api().call('requestForwardCorrection', input)
    } catch (error) {
      if (attempt >= attempts || !isKeyrotorError(error, 'UNREACHABLE')) throw error
      session.out.note(`keyrotor: ${error.message}; trying again with the same idempotency key`)
      await sleep(500 * attempt)
    }
  }
}
