import { Command, CommanderError } from 'commander'
import { registerAlerts } from './alerts.js'
import { registerApprovals } from './approvals.js'
import { registerAudit } from './audit.js'
import { registerCompletion } from './completion.js'
import { registerConfig } from './config.js'
import { registerDrill } from './drill.js'
import { EXIT } from './exit-codes.js'
import { registerHalt } from './halt.js'
import { registerIncidents } from './incidents.js'
import { registerKeys } from './keys.js'
import { createOutput } from './output.js'
import { registerRotate } from './rotate.js'
import { registerRunbooks } from './runbooks.js'
import { registerRuns } from './runs.js'
import { registerSchedule } from './schedule.js'
import { registerServer } from './server.js'
import { createAct } from './session.js'
import type { CliContext } from './session.js'
import { registerTimeline } from './timeline.js'
import { registerTokens } from './tokens.js'
import { registerVerify } from './verify.js'
import { packageVersion } from './version.js'

export function createProgram(ctx: CliContext, result: { code: number }): Command {
  const program = new Command('keyrotor')
    .description('keyrotor: rotate keys across the services that depend on them, safely')
    .version(packageVersion(), '-V, --version', 'print the package version')
    // `halt --reason` and `halt status --json`: options after a subcommand belong to the subcommand
    .enablePositionalOptions()
    // usage errors must reach runCli (exit 2), not end the process with commander's exit 1
    .exitOverride()
    .configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr })
    .showHelpAfterError('(add --help for usage)')
  // settings above are inherited by every subcommand created with .command() from here on
  const act = createAct(ctx, result)
  registerServer(program, act)
  registerTokens(program, act)
  registerKeys(program, act)
  registerRotate(program, act)
  registerRuns(program, act)
  registerSchedule(program, act)
  registerVerify(program, act)
  registerHalt(program, act)
  registerApprovals(program, act)
  registerAlerts(program, act)
  registerTimeline(program, act)
  registerIncidents(program, act)
  registerConfig(program, act)
  registerAudit(program, act)
  registerDrill(program, act)
  registerRunbooks(program, act)
  registerCompletion(program, act)
  return program
}

/** Runs one CLI invocation (argv without node and script) and resolves with its exit code. */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  const result = { code: EXIT.ok as number }
  const program = createProgram(ctx, result)
  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok
    // commander already wrote the message to stderr; keep --json's promise of one document
    if (argv.includes('--json')) {
      const message = error.message.replace(/^error: /, '')
      createOutput(true, ctx).emit({ error: { code: 'BAD_REQUEST', message, correlationId: null } }, () => [])
    }
    return EXIT.badInput
  }
  return result.code
}
