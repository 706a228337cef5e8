import { useState } from 'preact/hooks'
import type { ScheduleView } from '../../src/engine/schedule/rotation-scheduler.js'
import type { KeyView } from '../../src/engine/views.js'
import { age } from '../format.js'
import { href } from '../router.js'
import { useResource } from '../use-resource.js'
import { ErrorLine, RunState } from './bits.js'

/** Keys per page: the first screen of a 10,000-key fleet loads one page, not the fleet. */
export const FLEET_PAGE = 50

/** Every key: active version, age, schedule, window, frozen, dependents ready, last run. */
export function FleetView() {
  const [search, setSearch] = useState('')
  // cursors of the pages before this one: "previous" pops one
  const [cursors, setCursors] = useState<string[]>([])
  const cursor = cursors.at(-1)
  const query = new URLSearchParams({ limit: String(FLEET_PAGE + 1) })
  if (cursor !== undefined) query.set('cursor', cursor)
  if (search.trim() !== '') query.set('q', search.trim())
  const keys = useResource<KeyView[]>(`/v1/keys?${query.toString()}`, 10_000)
  // the schedule plans the whole fleet: asked once the first page is on screen, so it never delays it
  const schedule = useResource<ScheduleView>(keys.data === undefined ? null : '/v1/schedule', 30_000)
  const page = keys.data?.slice(0, FLEET_PAGE) ?? []
  const more = (keys.data?.length ?? 0) > FLEET_PAGE
  const plans = new Map(schedule.data?.keys.map((plan) => [plan.key, plan]))

  return (
    <section>
      <h1>Fleet</h1>
      <div class="toolbar">
        <label for="fleet-search">Search keys</label>
        <input
          id="fleet-search"
          type="search"
          value={search}
          placeholder="id or owner"
          onInput={(e) => {
            setSearch(e.currentTarget.value)
            setCursors([])
          }}
        />
      </div>
      <ErrorLine error={keys.error} />
      <table data-testid="fleet">
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Active</th>
            <th scope="col">Age</th>
            <th scope="col">Next due</th>
            <th scope="col">Window</th>
            <th scope="col">Dependents ready</th>
            <th scope="col">Last run</th>
          </tr>
        </thead>
        <tbody>
          {page.map((key) => {
            const active = key.versions.find((v) => v.version === key.activeVersion)
            const ready = key.dependents.filter((d) => d.active !== null && d.active === key.activeVersion)
            const plan = plans.get(key.id)
            return (
              <tr key={key.id}>
                <td>
                  <a href={href('keys', key.id)}>{key.id}</a>
                  {key.frozen !== null && (
                    <span class="badge bad" title={key.frozen.reason ?? ''}>
                      frozen
                    </span>
                  )}
                  <div class="sub">{key.owner}</div>
                </td>
                <td>{key.activeVersion === null ? '—' : `v${key.activeVersion}`}</td>
                <td>{age(active?.createdAt)}</td>
                <td title={plan?.reason}>
                  {plan === undefined
                    ? '…'
                    : plan.dueAt === null
                      ? plan.status
                      : `${plan.dueAt.slice(0, 10)} (${plan.status})`}
                </td>
                <td>{key.policy.window ?? '—'}</td>
                <td>
                  {ready.length}/{key.dependents.length}
                </td>
                <td>
                  {key.lastRun === null ? (
                    '—'
                  ) : (
                    <a href={href('runs', key.lastRun.id)}>
                      <RunState state={key.lastRun.state} />
                    </a>
                  )}
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
      {keys.data !== undefined && page.length === 0 && <p>No key matches.</p>}
      <div class="pager">
        <button
          type="button"
          disabled={cursors.length === 0}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Previous
        </button>
        <button type="button" disabled={!more} onClick={() => setCursors([...cursors, page.at(-1)!.id])}>
          Next
        </button>
      </div>
    </section>
  )
}
