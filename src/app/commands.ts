import { runDemoWith, type DemoOptions } from '../demo/demo.js'
import { runSandboxWith, type SandboxOptions } from '../drills/sandbox.js'
import { startKeyrotor } from '../main.js'
import { runInit } from './init.js'
import { runServerWith } from './server-command.js'
import type { StartOptions } from './start-options.js'

// The in-process commands the CLI runs (cli/app-entry.ts loads this module lazily, so client
// commands never load the server): each binds its body to the composition root in main.ts.
export { runInit } from './init.js'
export { runAgent } from './agent-command.js'

/** `keyrotor server`: runs until SIGINT or SIGTERM, then stops cleanly (runs in flight resume on restart). */
export async function runServer(options: StartOptions): Promise<void> {
  await runServerWith(startKeyrotor, options)
}

/** `keyrotor demo`: a throwaway keyrotor with sample dependents and one rotation, shown phase by phase. */
export async function runDemo(options: DemoOptions): Promise<void> {
  await runDemoWith(startKeyrotor, runInit, options)
}

/** `keyrotor drill start`'s background process: a sandbox with one injected fault. */
export async function runDrillSandbox(options: SandboxOptions): Promise<void> {
  await runSandboxWith(startKeyrotor, runInit, options)
}
