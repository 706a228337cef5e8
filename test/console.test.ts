import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DataKeyService } from '../src/demo/sample-services.js'
import type { KeyView, RunView } from '../src/engine/views.js'
import type { Alert } from '../src/observability/alerts.js'
import {
  browserAvailable,
  buildConsole,
  launchChromium,
  seriousAxeViolations,
  watchedPage,
  type WatchedPage,
} from './helpers/browser.js'
import { startDataKeyDependent, startHarness, waitForRun, type Harness } from './helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from './helpers/sample-dependents.js'
import { DIALECTS } from './helpers/stores.js'
import { startTcpProxy } from './helpers/tcp-proxy.js'

const PEOPLE = {
  vera: 'viewer',
  olga: 'operator',
  sam: 'security',
  sue: 'security',
  bob: 'admin',
  ann: 'admin',
} as const
type Person = keyof typeof PEOPLE

/**
 * The operator console in real Chromium, each path walked once per dialect: sign-in per role, a
 * rotation watched live, an emergency approved by a second person, an alert acknowledged, and a
 * partial execution halted and released through two approvals.
 */
describe.skipIf(!browserAvailable()).each(DIALECTS)('the operator console on %s', (dialect) => {
  let browser: Browser
  let h: Harness
  let payments: DataKeyService
  let ledger: DataKeyService
  const tokens = {} as Record<Person, string>
  const pages: WatchedPage[] = []

  beforeAll(async () => {
    buildConsole()
    const [paymentsApi, ledgerApi] = [await planDependent('payments-api'), await planDependent('ledger-api')]
    const config =
      'keys:' +
      keyYaml({
        id: 'payments-dek',
        algorithm: 'aes-256-gcm',
        dependents: [paymentsApi],
        policy: '{ gracePeriod: 1h, phaseTimeout: 60s }',
      }) +
      keyYaml({
        id: 'ledger-dek',
        algorithm: 'aes-256-gcm',
        dependents: [ledgerApi],
        policy: '{ gracePeriod: 1h, phaseTimeout: 1s }',
      }) +
      keyYaml({ id: 'auth-dek', algorithm: 'aes-256-gcm', dependents: [] }) +
      keyYaml({ id: 'tampered-dek', algorithm: 'aes-256-gcm', dependents: [] })
    h = await startHarness(dialect, config, { secrets: secretsOf([paymentsApi, ledgerApi]) })
    payments = await startDataKeyDependent(h, paymentsApi, 'payments-dek')
    ledger = await startDataKeyDependent(h, ledgerApi, 'ledger-dek')
    for (const [user, role] of Object.entries(PEOPLE)) {
      tokens[user as Person] = (
        await h.api<{ token: string }>('POST', '/v1/tokens', { user, role })
      ).body.token
    }
    browser = await launchChromium()
  })

  afterAll(async () => {
    await browser?.close()
    await payments?.close()
    await ledger?.close()
    await h?.stop()
  })

  /** A fresh tab signed in as `person`, on the fleet. */
  async function signIn(person: Person, url = h.url, token = tokens[person]): Promise<Page> {
    const watched = await watchedPage(browser, new URL(url).origin)
    pages.push(watched)
    const { page } = watched
    await page.goto(url)
    await page.getByLabel('API token').fill(token)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('navigation', { name: 'Main' }).waitFor()
    return page
  }

  /** Follows a link of the main navigation (the halt banner has a link of its own). */
  async function nav(page: Page, name: string): Promise<void> {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click()
  }

  async function expectAccessible(page: Page): Promise<void> {
    expect(await seriousAxeViolations(page)).toEqual([])
  }

  /** Every page so far: no console error, no request to another origin. Closes them. */
  async function expectCleanPages(): Promise<void> {
    for (const watched of pages.splice(0)) {
      expect(watched.errors).toEqual([])
      expect(watched.foreignRequests).toEqual([])
      await watched.close()
    }
  }

  it('answers an invalid token with a clear message and shows nothing else', async () => {
    const watched = await watchedPage(browser, new URL(h.url).origin)
    pages.push(watched)
    const { page } = watched
    await page.goto(h.url)
    await page.getByLabel('API token').fill(`kr_${'x'.repeat(43)}`)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('This token is not valid')
    expect(await page.getByRole('navigation').count()).toBe(0)
    expect(await page.locator('table').count()).toBe(0)
    await expectAccessible(page)
    await expectCleanPages()
  })

  it('shows a viewer the fleet, a key and why a key is frozen, without any action; the server refuses a forced one', async () => {
    const page = await signIn('vera')
    const fleet = page.getByTestId('fleet')
    await expect.poll(() => fleet.locator('tbody tr').count()).toBe(4)
    await page.getByLabel('Search keys').fill('ledger')
    await expect
      .poll(() => fleet.locator('tbody tr').allTextContents())
      .toEqual([expect.stringContaining('ledger-dek')])
    await page.getByLabel('Search keys').fill('')
    await expectAccessible(page)

    await page.getByRole('link', { name: 'payments-dek' }).click()
    await page.getByRole('heading', { name: 'Key payments-dek' }).waitFor()
    await expect.poll(() => page.getByTestId('dependents').textContent()).toContain('payments-api')
    expect(await page.getByRole('button').allTextContents()).toEqual(['Sign out'])
    await expectAccessible(page)

    // the page only hides the button: a request forced from it is refused by the server
    const forced = await page.evaluate(async () => {
      const { sessionStorage } = globalThis as unknown as {
        sessionStorage: { getItem(k: string): string | null }
      }
      const response = await fetch('/v1/keys/payments-dek/rotations', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${sessionStorage.getItem('keyrotor.token')}`,
          'content-type': 'application/json',
        },
        body: '{}',
      })
      return response.status
    })
    expect(forced).toBe(403)

    // someone disables the key's versions at the provider behind keyrotor's back: verify freezes it,
    // and the viewer sees why
    const drift = (state: string) =>
      h.keyrotor.store.db
        .updateTable('local_keystore')
        .set({ state })
        .where('key_id', '=', 'tampered-dek')
        .execute()
    await drift('disabled')
    try {
      await h.api('POST', '/v1/keys/tampered-dek/verify')
      await page.goto(`${h.url}/#/keys/tampered-dek`)
      await expect
        .poll(() => page.getByTestId('frozen-reason').textContent())
        .toContain('unexpected transition')
      await nav(page, 'Fleet')
      await expect
        .poll(() => fleet.locator('tr', { hasText: 'tampered-dek' }).textContent())
        .toContain('frozen')
    } finally {
      await drift('enabled')
      await h.api('POST', '/v1/keys/tampered-dek/verify')
    }
    expect((await h.api<KeyView>('GET', '/v1/keys/tampered-dek')).body.frozen).toBeNull()

    // the token is revoked while the page is open: back to sign-in, with the reason, nothing else
    const second = (
      await h.api<{ id: string; token: string }>('POST', '/v1/tokens', { user: 'vera', role: 'viewer' })
    ).body
    const revokedPage = await signIn('vera', h.url, second.token)
    expect((await h.api('POST', `/v1/tokens/${second.id}/revoke`)).status).toBe(200)
    await expect
      .poll(() => revokedPage.getByRole('alert').textContent(), { timeout: 10_000 })
      .toContain('no longer accepted')
    expect(await revokedPage.getByRole('navigation').count()).toBe(0)
    await expectCleanPages()
  })

  it('lets an operator trigger a rotation and watch its phases arrive live, then shows its validation', async () => {
    // the service holds the promotion notice until the page has shown the first phases
    let letPromotionThrough = () => {}
    const held = new Promise<void>((resolve) => (letPromotionThrough = resolve))
    const original = payments.dependent.handleNotice.bind(payments.dependent)
    payments.dependent.handleNotice = async (body, headers) => {
      if ((JSON.parse(body) as { event: string }).event === 'key.version.promoted') await held
      return original(body, headers)
    }
    // the page reaches the server through a line the test can cut
    const proxy = await startTcpProxy(h.url)
    try {
      const page = await signIn('olga', proxy.url)
      // the browser reports the connections the cut breaks; the page itself must stay quiet
      // (whichever net::ERR_ a request in flight gets depends on the moment of the cut)
      pages.at(-1)?.expected.push(/^Failed to load resource: net::ERR_[A-Z_]+$/)
      await page.getByRole('link', { name: 'payments-dek' }).click()
      await page.getByRole('button', { name: 'Rotate now' }).click()
      await page.waitForURL(/#\/runs\/.+/)
      const runId = decodeURIComponent(page.url().split('#/runs/')[1] ?? '')
      const events = page.getByTestId('events').locator('li')
      await expect.poll(() => events.count(), { timeout: 20_000 }).toBeGreaterThan(0)
      await expect.poll(() => page.getByTestId('stream-status').textContent()).toBe('live')
      const shownWhileRunning = await events.count()
      expect((await h.api<RunView>('GET', `/v1/runs/${runId}`)).body.state).toBe('running')

      // the connection drops: the page says so, and resumes after the last event it has
      proxy.cut()
      await expect.poll(() => page.getByTestId('stream-status').textContent()).toBe('reconnecting…')
      proxy.restore()
      await expect
        .poll(() => page.getByTestId('stream-status').textContent(), { timeout: 10_000 })
        .toBe('live')

      letPromotionThrough()
      await expect
        .poll(() => page.getByTestId('stream-status').textContent(), { timeout: 30_000 })
        .toBe('run ended')
      expect(await events.count()).toBeGreaterThan(shownWhileRunning)
      // every journal entry exactly once, in order, across the reconnect
      const journal = (await h.api<{ events: { type: string }[] }>('GET', `/v1/runs/${runId}/events`)).body
        .events
      const shown = await page.getByTestId('events').locator('code').allTextContents()
      expect(shown).toEqual(journal.map((e) => e.type))
      await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toContain('succeeded')
      await expect.poll(() => page.getByTestId('validation').textContent()).toContain('every check passed')
      await expectAccessible(page)
    } finally {
      letPromotionThrough()
      payments.dependent.handleNotice = original
      await proxy.close()
    }
    await expectCleanPages()
  })

  it('takes an emergency rotation from an operator and lets only a second, security person approve it', async () => {
    const olga = await signIn('olga')
    await olga.goto(`${h.url}/#/keys/auth-dek`)
    await olga.getByRole('button', { name: 'Emergency rotation…' }).click()
    await olga.getByLabel('Reason (required)').fill('auth-dek exposed in a build log')
    const confirm = olga.getByRole('button', { name: 'Emergency rotation', exact: true })
    expect(await confirm.isDisabled()).toBe(true)
    await olga.getByLabel('Type auth-dek to confirm').fill('auth-dek')
    await confirm.click()
    await olga.waitForURL(/#\/runs\/.+/)
    const runId = decodeURIComponent(olga.url().split('#/runs/')[1] ?? '')
    await expect
      .poll(() => olga.getByRole('heading', { level: 1 }).textContent())
      .toContain('awaiting_approval')

    // the requester sees the request in the inbox but is never offered the decision
    await olga.goto(`${h.url}/#/approvals`)
    const own = olga.getByTestId('approval-emergency-rotate')
    await expect.poll(() => own.textContent()).toContain('You asked for this')
    expect(await own.getByRole('button').count()).toBe(0)

    const sam = await signIn('sam')
    await nav(sam, 'Approvals')
    const card = sam.getByTestId('approval-emergency-rotate')
    await expect.poll(() => card.textContent()).toContain('auth-dek exposed in a build log')
    await expectAccessible(sam)
    await card.getByRole('button', { name: 'Approve…' }).click()
    await card.getByRole('button', { name: 'Approve', exact: true }).click()
    await expect.poll(() => card.count()).toBe(0)
    expect((await waitForRun<RunView>(h, runId)).state).toBe('succeeded')
    await expectCleanPages()
  })

  it('shows a partial execution halted on every page, acknowledges its alert, closes its incident and releases through two approvals', async () => {
    // ledger-api takes the promotion notice but never switches: confirm runs out of time
    const original = ledger.dependent.handleNotice.bind(ledger.dependent)
    ledger.dependent.handleNotice = async (body, headers) =>
      (JSON.parse(body) as { event: string }).event === 'key.version.promoted'
        ? { status: 200 }
        : original(body, headers)
    const olga = await signIn('olga')
    await olga.goto(`${h.url}/#/keys/ledger-dek`)
    await olga.getByRole('button', { name: 'Rotate now' }).click()
    await olga.waitForURL(/#\/runs\/.+/)
    const stopped = await waitForRun<RunView>(h, decodeURIComponent(olga.url().split('#/runs/')[1] ?? ''))
    expect(stopped.state).toBe('halted')
    ledger.dependent.handleNotice = original

    const banner = olga.getByTestId('halt-banner')
    await banner.waitFor({ timeout: 10_000 })
    expect(await banner.textContent()).toContain(stopped.id)
    for (const view of ['Fleet', 'Alerts', 'Incidents']) {
      await nav(olga, view)
      await banner.waitFor()
    }

    // a refused action shows the server's reason beside it
    await olga.goto(`${h.url}/#/keys/auth-dek`)
    await olga.getByRole('button', { name: 'Rotate now' }).click()
    await expect.poll(() => olga.locator('.action [role=alert]').textContent()).toContain('423')

    // the operator acknowledges the partial-execution alert
    await nav(olga, 'Alerts')
    const alertRow = olga.getByTestId('alerts').locator('tr', { hasText: 'partial_execution' })
    await alertRow.getByRole('button', { name: 'Acknowledge' }).click()
    await expect.poll(() => alertRow.count()).toBe(0)
    const alerts = (await h.api<Alert[]>('GET', '/v1/alerts')).body
    expect(alerts.find((a) => a.type === 'partial_execution')?.state).toBe('acknowledged')

    // forward correction, asked by the operator, approved by security
    await olga.goto(`${h.url}/#/keys/ledger-dek`)
    await olga.getByRole('button', { name: 'Forward correction…' }).click()
    await olga.getByLabel('Reason (required)').fill('finish the promotion of v2')
    await olga.getByRole('button', { name: 'Forward correction', exact: true }).click()
    await olga.waitForURL(/#\/runs\/.+/)
    const correctionId = decodeURIComponent(olga.url().split('#/runs/')[1] ?? '')
    const sam = await signIn('sam')
    await sam.goto(`${h.url}/#/approvals`)
    const correction = sam.getByTestId('approval-forward-correct')
    await correction.getByRole('button', { name: 'Approve…' }).click()
    await correction.getByRole('button', { name: 'Approve', exact: true }).click()
    expect((await waitForRun<RunView>(h, correctionId)).state).toBe('succeeded')

    // security reads the incident's timeline and closes it with the root cause
    await nav(sam, 'Incidents')
    const incident = sam.locator('article', { hasText: stopped.id })
    await incident.locator('summary', { hasText: 'Timeline' }).click()
    await expect.poll(() => incident.locator('ol').textContent()).toContain('ledger-dek')
    await incident.getByRole('button', { name: 'Close with RCA…' }).click()
    await incident.getByLabel('Root-cause analysis (required)').fill('ledger-api never applied promotions')
    await incident.getByRole('button', { name: 'Close with RCA', exact: true }).click()
    await expect.poll(() => incident.textContent()).toContain('RCA by sam')

    // an admin asks for the release with a typed confirmation; a security person and another admin approve
    const bob = await signIn('bob')
    await nav(bob, 'Halt')
    await bob.getByRole('button', { name: 'Request release…' }).click()
    await bob.getByLabel('Reason (required)').fill('ledger-dek corrected forward')
    await bob.getByLabel('Type RELEASE to confirm').fill('RELEASE')
    await bob.getByRole('button', { name: 'Request release', exact: true }).click()
    await expect
      .poll(() => bob.getByTestId('release-pending').textContent())
      .toContain('approved by nobody yet')
    await expectAccessible(bob)

    for (const approver of ['sue', 'ann'] as const) {
      const page = await signIn(approver)
      await nav(page, 'Approvals')
      const release = page.getByTestId('approval-halt.release')
      await release.getByRole('button', { name: 'Approve…' }).click()
      await release.getByRole('button', { name: 'Approve', exact: true }).click()
      // approved once by this person: the card says so (or is gone once released), with no button
      await expect
        .poll(
          async () =>
            (await release.count()) === 0 || (await release.textContent())?.includes(`${approver} (`),
        )
        .toBe(true)
      expect(await release.getByRole('button').count()).toBe(0)
    }
    await expect.poll(() => bob.getByTestId('halt-banner').count(), { timeout: 10_000 }).toBe(0)
    expect((await h.api<{ engaged: boolean }>('GET', '/v1/halt')).body.engaged).toBe(false)
    await expectCleanPages()
  })
})
