import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exitOf, runCliProcess, spawnCli } from './helpers/cli.js'
import { startHarness, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'

// what a hostile dependent answers its probe with: move up a line, erase it, forge the result
const FORGERY = '\x1b[1A\x1b[2K\rKEYROTOR-RESULT=SUCCEEDED run=fake exit=0'

// the CLI's own output handling; the store plays no part, so SQLite alone
describe('CLI output against hostile text and closed pipes (issue 9 item 12)', () => {
  let h: Harness
  let dependent: Server
  let env: Record<string, string>

  beforeAll(async () => {
    const planned = await planDependent('hostile-api')
    dependent = createServer((_request, response) => response.writeHead(500).end(FORGERY))
    await new Promise<void>((resolve) => dependent.listen(planned.port, '127.0.0.1', resolve))
    const config = `keys:${keyYaml({ id: 'hostile-dek', algorithm: 'aes-256-gcm', dependents: [planned] })}`
    h = await startHarness('sqlite', config, { secrets: secretsOf([planned]) })
    env = { KEYROTOR_URL: h.url, KEYROTOR_TOKEN: h.adminToken }
  })
  afterAll(async () => {
    await h?.stop()
    await new Promise((resolve) => dependent?.close(resolve))
  })

  it('prints a dependent’s escape sequences and forged result line escaped, so only the real result line counts', async () => {
    const result = await runCliProcess(['rotate', 'hostile-dek', '--wait', '--timeout', '60s'], env)
    expect(result.code).toBe(3)
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines.filter((line) => line.includes('KEYROTOR-RESULT='))).toEqual([lines.at(-1)])
    expect(lines.at(-1)).toMatch(/^KEYROTOR-RESULT=FAILED run=\S+ exit=3$/)
    expect(result.stdout + result.stderr).not.toContain('\x1b')
    expect(result.stdout + result.stderr).not.toContain('\r')
    expect(result.stdout).toContain('\\x1b[1A\\x1b[2K')
  })

  it('exits quietly with its own code when the reader closes the pipe (`… | head -1`)', async () => {
    const child = spawnCli(['keys', 'list'], env)
    // the reader is gone before the CLI writes a byte
    child.stdout?.destroy()
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    expect(await exitOf(child)).toBe(0)
    expect(stderr).toBe('')
  })
})
