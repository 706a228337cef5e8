import { execFile, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { exitOf, runCliProcess, waitForLine } from './helpers/cli.js'

const run = promisify(execFile)
const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }
const work = mkdtempSync(join(tmpdir(), 'keyrotor-packaging-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** Runs a shell script with the completion script sourced; stdout is what the completer offered. */
async function complete(shell: 'bash' | 'zsh', script: string): Promise<string[]> {
  const { stdout: completion } = await runCliProcess(['completion', shell])
  const file = join(work, `completion.${shell}`)
  writeFileSync(file, completion)
  const args =
    shell === 'zsh'
      ? ['-f', '-c', `compdef() { :; }; source ${file}; ${script}`]
      : ['-c', `source ${file}; ${script}`]
  const { stdout } = await run(shell, args)
  return stdout.trim().split('\n')
}

describe('keyrotor as an installed command', () => {
  it('--version prints the version in package.json', async () => {
    const result = await runCliProcess(['--version'])
    expect(result).toMatchObject({ code: 0, stdout: `${manifest.version}\n` })
  })

  it('bash completion offers the subcommands and options of the words typed so far', async () => {
    const lines = await complete(
      'bash',
      [
        'COMP_WORDS=(keyrotor runs l); COMP_CWORD=2; _keyrotor; echo "${COMPREPLY[*]}"',
        'COMP_WORDS=(keyrotor rotate payments-dek --w); COMP_CWORD=3; _keyrotor; echo "${COMPREPLY[*]}"',
        'COMP_WORDS=(keyrotor completion ""); COMP_CWORD=2; _keyrotor; echo "${COMPREPLY[*]}"',
        'complete -p keyrotor',
      ].join('\n'),
    )
    expect(lines).toEqual(['list', '--wait', 'bash zsh --help', 'complete -o default -F _keyrotor keyrotor'])
  })

  it('zsh completion offers the subcommands of the words typed so far', async () => {
    const lines = await complete(
      'zsh',
      [
        'compadd() { shift; print -r -- "$*" }',
        'words=(keyrotor runs l); CURRENT=3; _keyrotor',
        'words=(keyrotor audit ""); CURRENT=3; _keyrotor',
      ].join('; '),
    )
    expect(lines[0]?.split(' ')).toEqual(expect.arrayContaining(['list', 'show', 'wait', 'verify', 'retry']))
    expect(lines[1]?.split(' ')).toEqual(expect.arrayContaining(['verify', 'export']))
    expect(lines[1]).not.toContain('rotate')
  })

  it('completion refuses a shell it does not support (exit 2)', async () => {
    const result = await runCliProcess(['completion', 'fish'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('bash, zsh')
  })

  it('the systemd unit passes systemd-analyze verify and rates OK in its security review', async () => {
    // verify checks that ExecStart exists: point it at the built CLI, keep every other line
    const unit = join(work, 'keyrotor.service')
    const cli = join(process.cwd(), 'dist/src/cli/main.js')
    writeFileSync(unit, readFileSync('deploy/keyrotor.service', 'utf8').replace('/usr/bin/keyrotor', cli))
    const verify = await run('systemd-analyze', ['verify', unit])
    expect(verify.stderr).toBe('')
    // exposure is 0-10 (threshold in tenths): 2.0 and below is what systemd calls "OK"
    const security = await run('systemd-analyze', ['security', '--offline=yes', '--threshold=20', unit])
    expect(security.stdout).toMatch(/Overall exposure level for keyrotor\.service: [0-1]\.\d OK/)
  })

  it(
    'the npm pack tarball installs in an empty directory and runs keyrotor demo end to end',
    async () => {
      // the tarball packs the dist/ that `npm run build` made (CI builds before vitest)
      const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work])
      const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[]
      expect(packed!.files.map((f) => f.path)).not.toContainEqual(
        expect.stringMatching(/^(src|test|bench)\//),
      )
      const app = join(work, 'app')
      mkdirSync(app)
      writeFileSync(join(app, 'package.json'), '{"name": "keyrotor-install-check", "private": true}\n')
      // tarballs come from the npm cache `npm ci` filled; only missing metadata may be fetched
      await run(
        'npm',
        ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, packed!.filename)],
        { cwd: app, maxBuffer: 16 * 1024 * 1024 },
      )
      const bin = join(app, 'node_modules', '.bin', 'keyrotor')
      const version = await run(bin, ['--version'], { cwd: app })
      expect(version.stdout).toBe(`${manifest.version}\n`)

      const demo = spawn(bin, ['demo', '--port', '0', '--json'], {
        cwd: app,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      try {
        const summary = JSON.parse(await waitForLine(demo, /^\{"url"/, 120_000)) as {
          url: string
          runs: { state: string; validation: { passed: boolean } }[]
        }
        expect(summary.runs.map((r) => [r.state, r.validation.passed])).toEqual([
          ['succeeded', true],
          ['succeeded', true],
        ])
        expect((await fetch(`${summary.url}/healthz`)).status).toBe(200)
        demo.kill('SIGINT')
        expect(await exitOf(demo)).toBe(0)
      } finally {
        demo.kill('SIGKILL')
      }
    },
    10 * 60_000,
  )
})
