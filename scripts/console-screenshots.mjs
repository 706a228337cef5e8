// Regenerates docs/console/*.png: one screenshot per console view, taken in Chromium against
// `keyrotor demo` (its two keys rotated), with an emergency request waiting for approval and the
// halt engaged so the approvals inbox and the banner have something to show.
// Run after `npm run build`: `npm run screenshots`. Needs /usr/bin/chromium (or CHROMIUM=path).
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { chromium } from 'playwright-core'

const OUT = 'docs/console'
const demo = spawn(process.execPath, ['dist/src/cli/main.js', 'demo', '--port', '0', '--json'], {
  stdio: ['ignore', 'pipe', 'inherit'],
})

try {
  const { url, adminToken } = await firstJsonLine(demo.stdout)
  const call = async (method, path, body, token = adminToken) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
    return response.json()
  }
  const token = async (user, role) => (await call('POST', '/v1/tokens', { user, role })).token
  const operator = await token('olga', 'operator')
  const security = await token('sam', 'security')
  const emergency = await call(
    'POST',
    '/v1/keys/auth-signing/rotations',
    { emergency: true, reason: 'signing key seen in a CI log' },
    operator,
  )
  const [run] = await call('GET', '/v1/runs?key=payments-dek&limit=1')

  mkdirSync(OUT, { recursive: true })
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' })
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  await page.goto(url)
  await shot(page, 'sign-in')
  await page.getByLabel('API token').fill(security)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByTestId('fleet').locator('tbody tr').first().waitFor()
  await page.waitForTimeout(500)
  await shot(page, 'fleet')
  for (const [name, hash, ready] of [
    ['key', '#/keys/payments-dek', 'dependents'],
    ['run', `#/runs/${run.id}`, 'validation'],
    ['runs', '#/runs', 'runs'],
    ['approvals', '#/approvals', 'approval-emergency-rotate'],
    ['alerts', '#/alerts', 'alerts'],
  ]) {
    await page.goto(`${url}/${hash}`)
    await page.getByTestId(ready).first().waitFor()
    await page.waitForTimeout(500)
    await shot(page, name)
  }
  await call('POST', '/v1/halt', { reason: 'suspicious activity at the KMS: investigating' }, security)
  for (const [name, hash] of [
    ['halt', '#/halt'],
    ['incidents', '#/incidents'],
    ['config', '#/config'],
    ['audit', '#/audit'],
  ]) {
    await page.goto(`${url}/${hash}`)
    await page.getByTestId('halt-banner').waitFor()
    if (name === 'audit') await page.getByRole('button', { name: 'Verify the chain' }).click()
    await page.waitForTimeout(500)
    await shot(page, name)
  }
  await browser.close()
  console.log(`screenshots of ${emergency.key}'s pending emergency and every view in ${OUT}/`)
} finally {
  demo.kill('SIGINT')
}

async function shot(page, name) {
  await page.screenshot({ path: `${OUT}/${name}.png` })
}

async function firstJsonLine(stream) {
  for await (const line of createInterface({ input: stream })) {
    if (line.startsWith('{"url"')) return JSON.parse(line)
  }
  throw new Error('keyrotor demo ended before it printed its summary')
}
