import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { exitOf, spawnCli, waitForLine } from './helpers/cli.js'

describe('keyrotor demo (what npm start runs)', () => {
  it('rotates both demo keys end to end, serves with an admin token, and removes its data dir on Ctrl-C', async () => {
    const demo = spawnCli(['demo', '--port', '0', '--json'])
    try {
      const line = await waitForLine(demo, /^\{"url"/)
      const summary = JSON.parse(line) as {
        url: string
        consoleUrl: string
        adminToken: string
        dataDir: string
        runs: { state: string; fromVersion: number; toVersion: number; validation: { passed: boolean } }[]
      }
      expect(summary.runs).toHaveLength(2)
      for (const run of summary.runs) {
        expect(run).toMatchObject({
          state: 'succeeded',
          fromVersion: 1,
          toVersion: 2,
          validation: { passed: true },
        })
      }
      const keys = await fetch(`${summary.url}/v1/keys`, {
        headers: { authorization: `Bearer ${summary.adminToken}` },
      })
      expect(keys.status).toBe(200)
      // the console the demo points at is served, with its own CSP
      const page = await fetch(summary.consoleUrl)
      expect(page.status).toBe(200)
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
      expect(await page.text()).toContain('<title>keyrotor console</title>')
      expect(existsSync(summary.dataDir)).toBe(true)
      demo.kill('SIGINT')
      expect(await exitOf(demo)).toBe(0)
      expect(existsSync(summary.dataDir)).toBe(false)
    } finally {
      demo.kill('SIGKILL')
    }
  })
})
