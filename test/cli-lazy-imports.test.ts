import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI } from './helpers/cli.js'

// A resolve hook (run by Node in its loader thread) that prints every module URL the process
// imports: what a command loads, not how long it takes (docs/benchmarks.md has the timings).
const HOOKS = `export async function resolve(specifier, context, next) {
  const result = await next(specifier, context)
  process.stderr.write('LOADED ' + result.url + '\\n')
  return result
}`
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)})`

/** The packages a server-side or file-reading module would pull in. */
const HEAVY = [
  'zod',
  'undici',
  'yaml',
  'fastify',
  'kysely',
  'better-sqlite3',
  'pg',
  '@aws-sdk',
  '@opentelemetry',
  'pkcs11js',
  'pino',
  'jose',
]

function loadedPackages(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; packages: Set<string>; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, CLI, ...args],
      { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const packages = new Set<string>()
        for (const match of stderr.matchAll(/^LOADED .*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) {
          if (match[1] !== undefined)
            packages.add(match[1].startsWith('@') ? (match[1].split('/')[0] ?? match[1]) : match[1])
        }
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1
        resolve({ code, packages, stdout })
      },
    )
  })
}

describe('CLI start loads only what the command needs', () => {
  let server: Server
  let url = ''
  beforeAll(async () => {
    // keys list needs an answer; what the server is does not matter to what the CLI imports
    server = createServer((_request, response) => {
      response.setHeader('content-type', 'application/json')
      response.end('[]')
    })
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    const address = server.address()
    url = typeof address === 'object' && address !== null ? `http://127.0.0.1:${address.port}` : ''
  })
  afterAll(() => new Promise<void>((done) => server.close(() => done())))

  it('keyrotor --version imports commander and none of the server, config or provider libraries', async () => {
    const { code, packages, stdout } = await loadedPackages(['--version'])
    expect(code).toBe(0)
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/)
    expect(packages.has('commander')).toBe(true)
    expect(HEAVY.filter((name) => packages.has(name))).toEqual([])
  })

  it('keyrotor keys list talks to the server without importing a heavy library', async () => {
    const { code, packages, stdout } = await loadedPackages(['keys', 'list', '--json'], {
      KEYROTOR_URL: url,
      KEYROTOR_TOKEN: 'kr_x',
    })
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual([])
    expect(HEAVY.filter((name) => packages.has(name))).toEqual([])
  })

  it('keyrotor config validate still loads the config parser and the providers when it needs them', async () => {
    const { packages } = await loadedPackages(['config', 'validate', '/nonexistent/keyrotor.yaml'])
    expect(packages.has('yaml')).toBe(true)
    expect(packages.has('zod')).toBe(true)
  })
})
