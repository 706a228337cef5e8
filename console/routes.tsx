import type { VNode } from 'preact'
import { match } from './router.js'
import { AlertsView } from './views/alerts.js'
import { ApprovalsView } from './views/approvals.js'
import { AuditView } from './views/audit.js'
import { ConfigView } from './views/config.js'
import { FleetView } from './views/fleet.js'
import { HaltView } from './views/halt.js'
import { IncidentsView } from './views/incidents.js'
import { KeyView } from './views/key.js'
import { RunView } from './views/run.js'
import { RunsView } from './views/runs.js'

/** The view for a `#/…` path; `key` remounts a view when its subject changes. */
export function routeTo(path: string): VNode {
  const key = match('/keys/:key', path)
  if (key !== null) return <KeyView key={key.key} keyId={key.key!} />
  const run = match('/runs/:id', path)
  if (run !== null) return <RunView key={run.id} runId={run.id!} />
  switch (path.split('?')[0]) {
    case '/runs':
      return <RunsView />
    case '/alerts':
      return <AlertsView />
    case '/approvals':
      return <ApprovalsView />
    case '/halt':
      return <HaltView />
    case '/incidents':
      return <IncidentsView />
    case '/config':
      return <ConfigView />
    case '/audit':
      return <AuditView />
    default:
      return <FleetView />
  }
}
