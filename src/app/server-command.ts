import type { Keyrotor, StartOptions } from './start-options.js'

/** How long `keyrotor server` waits for a clean stop after SIGTERM/SIGINT. */
const SHUTDOWN_MS = 10_000

/** `keyrotor server`: runs until SIGINT or SIGTERM, then stops cleanly (runs in flight resume on restart). */
export async function runServerWith(
  start: (options: StartOptions) => Promise<Keyrotor>,
  options: StartOptions,
): Promise<void> {
  const keyrotor = await start({
    ...options,
    crashPoint: options.crashPoint ?? process.env.KEYROTOR_CRASH_POINT,
  })
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  // bounded: phases are aborted and runs resume elsewhere, but a call that never settles (or a
  // store that does not answer) must not keep a stopping server alive; a second signal is "now"
  const forced = new Promise<'forced'>((resolve) => {
    const timer = setTimeout(() => resolve('forced'), SHUTDOWN_MS)
    timer.unref()
    process.once('SIGINT', () => resolve('forced'))
    process.once('SIGTERM', () => resolve('forced'))
  })
  const how = await Promise.race([keyrotor.close().then(() => 'closed' as const), forced])
  if (how === 'forced') {
    keyrotor.engine.log.warn({ afterMs: SHUTDOWN_MS }, 'shutdown did not finish in time; exiting now')
    process.exit(1)
  }
}
