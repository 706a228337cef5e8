import { spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { CATALOG, SCENARIOS, isScenario } from '../drills/catalog.js'
import {
  DEFAULT_DRILL_DIR,
  SANDBOX_FILES,
  isAlive,
  readState,
  type SandboxState,
} from '../drills/sandbox-state.js'
import { KeyrotorError } from '../errors.js'
import { checkDrill, renderReport } from './drill-check.js'
import { removeSandbox, stopSandbox } from './drill-stop.js'
import { EXIT } from './exit-codes.js'
import { createKeyrotorClient } from '../client/keyrotor-client.js'
import { table } from './output.js'
import { integerOption, str } from './session.js'
import type { Act, Session } from './session.js'

const CLI_MAIN = fileURLToPath(new URL('./main.js', import.meta.url))
const READY_TIMEOUT_MS = 90_000

function drillLeaf(parent: Command, nameAndArgs: string, description: string): Command {
  return parent
    .command(nameAndArgs)
    .description(description)
    .option('--json', 'print exactly one JSON document on stdout')
    .option('--dir <dir>', `the drill dir (default ${DEFAULT_DRILL_DIR})`, DEFAULT_DRILL_DIR)
}

const dirOf = (opts: Record<string, unknown>) => resolve(str(opts, 'dir') ?? DEFAULT_DRILL_DIR)

/** The running sandbox of the drill dir, or a usage error (exit 2) that says what to do. */
function requireSandbox(dir: string): SandboxState {
  const state = readState(dir)
  if (state === undefined) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      `no drill sandbox in ${dir}: start one with \`keyrotor drill start SCENARIO --dir ${dir}\``,
    )
  }
  if (!isAlive(state.pid)) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      `the drill sandbox in ${dir} (pid ${state.pid}) is not running; \`keyrotor drill stop --dir ${dir}\` cleans it up`,
    )
  }
  return state
}

export function registerDrill(program: Command, act: Act): void {
  const drill = program
    .command('drill')
    .description('practise a playbook on a throwaway sandbox with one injected fault, then get scored')

  drillLeaf(drill, 'list', 'list the scenarios').action(
    act(async ({ out }) => {
      const list = SCENARIOS.map((name) => CATALOG[name])
      out.emit(list, () =>
        table(
          ['SCENARIO', 'WHAT', 'RUNBOOK'],
          list.map((s) => [s.name, s.title, s.runbooks.join(' + ')]),
        ),
      )
    }),
  )

  drillLeaf(drill, 'start <scenario>', 'start a sandbox for SCENARIO in the background')
    .addOption(
      integerOption('--port <n>', 'port of the sandbox server (default: any free one)', 0, 65535).default(0),
    )
    .option('--force', 'stop a sandbox already running in the dir first')
    .action(act(async (session, [scenario]) => start(session, scenario ?? '')))

  drillLeaf(drill, 'status', 'show the sandbox of the drill dir').action(
    act(async ({ out, opts }) => {
      const state = requireSandbox(dirOf(opts))
      const view = publicView(state, dirOf(opts))
      out.emit({ ...view, running: true, fixedAt: state.fixedAt }, () => describe(view))
    }),
  )

  drillLeaf(
    drill,
    'fix',
    'do the repair outside keyrotor (a dependent fixed, a provider state restored)',
  ).action(
    act(async ({ out, opts }) => {
      const state = requireSandbox(dirOf(opts))
      const response = await fetch(`${state.controlUrl}/fix`, {
        method: 'POST',
        headers: { authorization: `Bearer ${state.controlSecret}` },
      })
      const body = (await response.json()) as { fixed?: boolean; message?: string; error?: string }
      if (!response.ok)
        throw new KeyrotorError('INTERNAL', `the sandbox could not fix: ${body.error ?? response.status}`)
      out.emit(body, () => `fixed: ${body.message ?? ''}`)
    }),
  )

  drillLeaf(drill, 'check', 'score the drill: steps done, lessons, consistency, time to recovery').action(
    act(async ({ out, opts }) => {
      const state = requireSandbox(dirOf(opts))
      const report = await checkDrill(
        createKeyrotorClient({ url: state.url, token: state.refereeToken }),
        state,
      )
      out.emit(report, () => renderReport(report))
      return report.recovered ? EXIT.ok : EXIT.runFailed
    }),
  )

  drillLeaf(drill, 'stop', 'stop the sandbox and remove every file it made').action(
    act(async ({ out, opts }) => {
      const dir = dirOf(opts)
      const state = readState(dir)
      if (!isSandboxDir(dir)) {
        throw new KeyrotorError('BAD_REQUEST', `no drill sandbox in ${dir}`)
      }
      const stopped = await stopSandbox(dir, state)
      out.emit({ stopped: true, dir, pid: state?.pid ?? null, scenario: state?.scenario ?? null }, () =>
        stopped
          ? `stopped the ${state?.scenario ?? ''} drill and removed its files from ${dir}`
          : `removed ${dir}`,
      )
    }),
  )

  // the sandbox process itself, started detached by `drill start`
  drill
    .command('sandbox <scenario>', { hidden: true })
    .requiredOption('--dir <dir>')
    .addOption(integerOption('--port <n>', 'port', 0, 65535).default(0))
    .action(
      act(async ({ ctx, opts }, [scenario]) => {
        if (!isScenario(scenario ?? '')) throw unknownScenario(scenario ?? '')
        const app = await ctx.importApp()
        await app.runDrillSandbox({
          scenario: scenario as (typeof SCENARIOS)[number],
          dir: dirOf(opts),
          port: opts.port as number,
        })
      }),
    )
}

/** A drill dir is marked by the sandbox's state file or log: only then are its files ours to remove. */
function isSandboxDir(dir: string): boolean {
  return existsSync(resolve(dir, SANDBOX_FILES.state)) || existsSync(resolve(dir, SANDBOX_FILES.log))
}

function unknownScenario(name: string): KeyrotorError {
  return new KeyrotorError(
    'BAD_REQUEST',
    `unknown scenario "${name}"; the scenarios are: ${SCENARIOS.join(', ')}`,
  )
}

async function start({ out, opts }: Session, scenario: string): Promise<number> {
  if (!isScenario(scenario)) throw unknownScenario(scenario)
  const dir = dirOf(opts)
  const running = readState(dir)
  if (running !== undefined && isAlive(running.pid) && opts.force !== true) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      `a ${running.scenario} drill is already running in ${dir} (pid ${running.pid}, ${running.url}): ` +
        `\`keyrotor drill stop --dir ${dir}\` first, or start with --force`,
    )
  }
  // a stopped-by-force or dead sandbox leaves nothing behind for the new one to trip on
  if (isSandboxDir(dir)) await stopSandbox(dir, running)
  else if (Object.values(SANDBOX_FILES).some((f) => existsSync(resolve(dir, f)))) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      `${dir} holds files named like a sandbox's (${Object.values(SANDBOX_FILES).join(', ')}) that are not a drill's; choose another --dir`,
    )
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const log = openSync(resolve(dir, SANDBOX_FILES.log), 'a', 0o600)
  const child = spawn(
    process.execPath,
    [CLI_MAIN, 'drill', 'sandbox', scenario, '--dir', dir, '--port', String(opts.port)],
    {
      detached: true,
      stdio: ['ignore', log, log],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, KEYROTOR_LOG_LEVEL: 'info' },
    },
  )
  closeSync(log)
  child.unref()
  const state = await waitForReady(dir, child.pid ?? -1)
  const view = publicView(state, dir)
  out.emit(view, () => describe(view))
  return EXIT.ok
}

async function waitForReady(dir: string, pid: number): Promise<SandboxState> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (Date.now() < deadline) {
    const state = readState(dir)
    if (state?.pid === pid) return state
    if (!isAlive(pid)) break
    await new Promise((r) => setTimeout(r, 100))
  }
  const tail = readFileSync(resolve(dir, SANDBOX_FILES.log), 'utf8')
    .trimEnd()
    .split('\n')
    .slice(-5)
    .join('\n')
  if (isAlive(pid)) process.kill(pid, 'SIGKILL')
  removeSandbox(dir)
  throw new KeyrotorError('INTERNAL', `the drill sandbox did not become ready:\n${tail}`)
}

function publicView(state: SandboxState, dir: string) {
  const info = CATALOG[state.scenario]
  return {
    scenario: state.scenario,
    url: state.url,
    tokens: state.tokens,
    runbook: state.runbooks[0] ?? info.runbooks[0] ?? '',
    runbooks: state.runbooks,
    briefing: info.briefing,
    dir,
    pid: state.pid,
    startedAt: state.faultAt,
  }
}

function describe(view: ReturnType<typeof publicView>): string[] {
  return [
    `drill ${view.scenario} is running at ${view.url} (pid ${view.pid}, dir ${view.dir})`,
    '',
    view.briefing,
    '',
    `follow ${view.runbooks.join(', then ')}; the people you play:`,
    ...Object.entries(view.tokens).map(
      ([role, token]) => `  ${role.padEnd(8)} export KEYROTOR_URL=${view.url} KEYROTOR_TOKEN=${token}`,
    ),
    '',
    '`keyrotor drill fix` does the repair outside keyrotor when the runbook says so;',
    '`keyrotor drill check` scores you; `keyrotor drill stop` removes the sandbox.',
  ]
}
