import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseRunbook, splitCommand, type RunbookCommand } from '../../src/governance/runbook-file.js'
import { CLI, type CliResult } from './cli.js'

/** The built CLI run in `cwd`, as a person at a shell prompt there would run it. */
export function keyrotorIn(
  cwd: string,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [resolve(CLI), ...args],
      { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 90_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        done({ code, stdout, stderr })
      },
    )
  })
}

/** What a placeholder `<X id>` may name, told apart by the shape of the JSON that shows it. */
const KINDS: Record<string, (d: Record<string, unknown>) => boolean> = {
  run: (d) => 'kind' in d && 'phase' in d && 'correlationId' in d,
  approval: (d) => 'requiredRoles' in d,
  alert: (d) => 'severity' in d && 'count' in d,
  incident: (d) => 'openedAt' in d,
  proposal: (d) => 'rollbackPlan' in d && 'baseVersion' in d,
  token: (d) => 'token' in d || ('role' in d && 'user' in d),
}

/**
 * The documented convention (docs/runbooks/README.md): `<X id>` is the `id` of the newest
 * document of kind X printed so far (the first of a list), or the `XId` field of one that names
 * it (an alert's `runId`, a proposal's `approvalId`).
 */
export function fillPlaceholders(line: string, outputs: readonly unknown[]): string {
  return line.replace(/<([a-z]+) id>/g, (whole, kind: string) => {
    for (const output of [...outputs].reverse()) {
      for (const doc of Array.isArray(output) ? output : [output]) {
        if (typeof doc !== 'object' || doc === null) continue
        const d = doc as Record<string, unknown>
        if (KINDS[kind]?.(d) === true && typeof d.id === 'string') return d.id
        const named = d[`${kind}Id`]
        if (typeof named === 'string') return named
      }
    }
    throw new Error(`nothing printed so far names the ${whole}`)
  })
}

export interface Step {
  runbook: string
  command: RunbookCommand
  args: string[]
  result: CliResult
}

/**
 * Runs the `sh` blocks of a runbook literally, in order, in `cwd` (where the drill dir is), as
 * the role each line names, with `--json` added so the next placeholders can be filled.
 * Throws at the first command that does not exit as the runbook says it will.
 */
export async function followRunbook(
  path: string,
  cwd: string,
  people: { url: string; tokens: Record<string, string> },
  outputs: unknown[] = [],
): Promise<Step[]> {
  const book = parseRunbook(readFileSync(path, 'utf8'))
  const steps: Step[] = []
  for (const command of book.commands) {
    const [program, ...args] = splitCommand(fillPlaceholders(command.line, outputs))
    const where = `${path}:${command.lineNumber} \`${command.line}\``
    if (program !== 'keyrotor') throw new Error(`${where}: only keyrotor commands are run`)
    const token = people.tokens[command.role]
    if (token === undefined) throw new Error(`${where}: no person with role ${command.role} in a drill`)
    const env = { KEYROTOR_URL: people.url, KEYROTOR_TOKEN: token }
    const withJson = args.includes('--json') ? args : [...args, '--json']
    let result = await keyrotorIn(cwd, withJson, env)
    const deadline = Date.now() + 120_000
    while (
      command.rerunWhileExit !== null &&
      result.code === command.rerunWhileExit &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 1_000))
      result = await keyrotorIn(cwd, withJson, env)
    }
    steps.push({ runbook: path, command, args: withJson, result })
    if (result.code !== command.expectExit) {
      throw new Error(
        `${where} exited ${result.code}, the runbook expects ${command.expectExit}:\n${result.stderr}\n${result.stdout}`,
      )
    }
    if (result.stdout.trim() !== '') outputs.push(JSON.parse(result.stdout))
  }
  return steps
}
