import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'
import { runInit, startKeyrotor } from '../src/main.js'
import { createBenchStore, isVerifyOnly } from './bench-store.js'
import { createInProcessDependents } from './in-process-dependents.js'
import { percentiles } from './percentiles.js'

/**
 * `node dist/bench/console-fleet.js [--keys N] [--samples S]`: how long the console's fleet view
 * takes to show its first screen on a large fleet (SQLite), in Chromium. Each sample reloads the
 * signed-in page and waits until the first page of keys is in the table. Prints one JSON document.
 */
const { values } = parseArgs({
  options: { keys: { type: 'string' }, samples: { type: 'string' }, chromium: { type: 'string' } },
})
const keys = Number(values.keys ?? 10_000)
const samples = Number(values.samples ?? 7)

const store = await createBenchStore('sqlite', keys, '')
try {
  const { adminToken } = await runInit(store.options)
  process.stderr.write(`enrolling ${keys} keys (setup, not measured)\n`)
  const keyrotor = await startKeyrotor({
    ...store.options,
    configPath: store.configPath,
    port: 0,
    logLevel: 'silent',
    dependentClient: createInProcessDependents({ verifyOnly: isVerifyOnly }),
  })
  try {
    const browser = await chromium.launch({ executablePath: values.chromium ?? '/usr/bin/chromium' })
    const page = await browser.newPage()
    await page.goto(keyrotor.url)
    await page.getByLabel('API token').fill(adminToken)
    await page.getByRole('button', { name: 'Sign in' }).click()
    const firstScreen = page.getByTestId('fleet').locator('tbody tr').nth(49)
    await firstScreen.waitFor()
    const times: number[] = []
    for (let i = 0; i < samples; i++) {
      const start = performance.now()
      await page.reload()
      await firstScreen.waitFor()
      times.push(performance.now() - start)
    }
    const api = async (path: string) => {
      const start = performance.now()
      const response = await fetch(`${keyrotor.url}${path}`, {
        headers: { authorization: `Bearer ${adminToken}` },
      })
      await response.arrayBuffer()
      return Math.round(performance.now() - start)
    }
    const result = {
      keys,
      samples,
      firstScreenMs: { p50: Math.round(percentiles(times).p50), max: Math.round(Math.max(...times)) },
      keysPageApiMs: await api('/v1/keys?limit=51'),
      scheduleApiMs: await api('/v1/schedule'),
    }
    await browser.close()
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await keyrotor.close()
  }
} finally {
  await store.drop()
}
