import type { RunView } from '../../src/engine/views.js'
import { useResource } from '../use-resource.js'
import { ErrorLine } from './bits.js'
import { RunTable } from './key.js'

/** The newest runs, refreshed every few seconds. */
export function RunsView() {
  const runs = useResource<RunView[]>('/v1/runs?limit=100', 3000)
  return (
    <section>
      <h1>Runs</h1>
      <ErrorLine error={runs.error} />
      <RunTable runs={runs.data ?? []} />
    </section>
  )
}
