import type { ComponentChildren } from 'preact'
import type { HaltStatus } from '../src/http/routes/halt.js'
import { when } from './format.js'
import { useSession } from './session.js'
import { useResource } from './use-resource.js'

const NAV = [
  ['#/', 'Fleet'],
  ['#/runs', 'Runs'],
  ['#/alerts', 'Alerts'],
  ['#/approvals', 'Approvals'],
  ['#/halt', 'Halt'],
  ['#/incidents', 'Incidents'],
  ['#/config', 'Config'],
  ['#/audit', 'Audit'],
] as const

/** Every page: the navigation, who is signed in, and the halt banner whenever the halt is engaged. */
export function Layout(props: { path: string; onSignOut: () => void; children: ComponentChildren }) {
  const session = useSession()
  const section = `#/${props.path.split('/')[1] ?? ''}`.replace(/^#\/keys$/, '#/')
  return (
    <div class="page">
      <header>
        <span class="brand">keyrotor</span>
        <nav aria-label="Main">
          {NAV.map(([link, label]) => (
            <a key={link} href={link} aria-current={section === link ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          {session.user} <span class="role">{session.role}</span>
          <button type="button" onClick={props.onSignOut}>
            Sign out
          </button>
        </span>
      </header>
      <HaltBanner />
      <main>{props.children}</main>
    </div>
  )
}

function HaltBanner() {
  const halt = useResource<HaltStatus>('/v1/halt', 3000)
  if (halt.data?.engaged !== true) return null
  return (
    <div class="halt-banner" role="status" data-testid="halt-banner">
      <strong>HALTED</strong> since {when(halt.data.since)} by {halt.data.by ?? '—'}: {halt.data.reason ?? ''}
      . No key state changes until the halt is released (<a href="#/halt">halt</a>).
    </div>
  )
}
