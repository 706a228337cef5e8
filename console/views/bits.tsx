import type { ApiError } from '../api.js'

/** A load that failed: the problem's detail, never a blank page. */
export function ErrorLine(props: { error: ApiError | undefined }) {
  if (props.error === undefined) return null
  return (
    <p class="problem" role="alert">
      {props.error.detail}
    </p>
  )
}

const GOOD = new Set(['succeeded', 'resolved', 'closed', 'approved', 'applied', 'active'])
const BAD = new Set(['failed', 'halted', 'rejected', 'open', 'expired', 'cancelled'])

/** A state word, coloured by whether it is good news. */
export function RunState(props: { state: string }) {
  const tone = GOOD.has(props.state) ? 'good' : BAD.has(props.state) ? 'bad' : 'neutral'
  return <span class={`badge ${tone}`}>{props.state}</span>
}

export function Loading(props: { what: string }) {
  return <p class="loading">Loading {props.what}…</p>
}
