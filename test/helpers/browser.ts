import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { chromium, type Browser, type Page } from 'playwright-core'

/** Debian's chromium; .ci/run installs it when missing. */
export const CHROMIUM = '/usr/bin/chromium'

/**
 * Whether the browser suites can run here. Elsewhere they skip with a notice, except under CI
 * (CI=true), where a missing browser is a failure rather than a silent pass.
 */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing under CI: .ci/run installs chromium`)
  console.warn(`NOTICE: ${CHROMIUM} is not installed: the console's browser suite is skipped`)
  return false
}

/** Bundles the console (a fraction of a second) so the suite never serves a stale build. */
export function buildConsole(): void {
  execFileSync(process.execPath, ['scripts/build-console.mjs'], { stdio: 'pipe' })
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--disable-gpu', '--disable-dev-shm-usage'] })
}

/** A page of its own (own sessionStorage) that records what must never happen on it. */
export interface WatchedPage {
  page: Page
  /** Console errors and uncaught exceptions, except the browser's note on an expected 4xx answer. */
  errors: string[]
  /** Requests to anything but the keyrotor server (data: and blob: URLs are not requests out). */
  foreignRequests: string[]
  /** Console messages a test provokes on purpose (a cut network line), not counted as errors. */
  expected: RegExp[]
  close(): Promise<void>
}

// Chromium logs every 4xx answer as a console error; a refusal the test provokes is not a fault
const EXPECTED_REFUSAL = /^Failed to load resource: the server responded with a status of 4\d\d/

export async function watchedPage(browser: Browser, origin: string): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  const page = await context.newPage()
  const watched: WatchedPage = {
    page,
    errors: [],
    foreignRequests: [],
    expected: [EXPECTED_REFUSAL],
    close: () => context.close(),
  }
  page.on('console', (message) => {
    if (message.type() !== 'error') return
    if (!watched.expected.some((pattern) => pattern.test(message.text()))) watched.errors.push(message.text())
  })
  page.on('pageerror', (error) => watched.errors.push(error.message))
  page.on('request', (request) => {
    const url = new URL(request.url())
    if (url.protocol === 'data:' || url.protocol === 'blob:') return
    if (url.origin !== origin) watched.foreignRequests.push(request.url())
  })
  return watched
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

export interface AxeViolation {
  id: string
  impact: string | null
  help: string
  nodes: { target: string[] }[]
}

/**
 * axe-core's serious and critical violations on the page as it is now. The script is evaluated
 * through the DevTools protocol, which the page's CSP does not govern, so the policy stays strict.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE)
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe
    return (await axe.run()).violations
  })
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }))
}
