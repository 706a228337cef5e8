import { useId, useState } from 'preact/hooks'
import { ApiError } from './api.js'

export interface ActionProps {
  label: string
  /** Runs the action with the reason typed (empty when none is asked). */
  run: (reason: string) => Promise<unknown>
  /** Called after the server accepted it (reload what it changed). */
  onDone?: () => void
  /** Whether a reason is asked, and what it is called (an RCA, a reason). */
  reason?: 'required' | 'optional' | 'none'
  reasonLabel?: string
  /** Destructive actions: the person types this word before the button works. */
  confirmWord?: string
  danger?: boolean
}

/**
 * One action the role may take. Simple ones are a button; the others open a small form for the
 * reason and the typed confirmation. A refusal (409, 422, 423, …) shows the problem's detail here,
 * beside the action.
 */
export function Action(props: ActionProps) {
  const [open, setOpen] = useState(false)
  const [reason, setReason] = useState('')
  const [typed, setTyped] = useState('')
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState<string | null>(null)
  const id = useId()
  const asksReason = (props.reason ?? 'none') !== 'none'
  const needsForm = asksReason || props.confirmWord !== undefined

  async function submit() {
    setBusy(true)
    setProblem(null)
    try {
      await props.run(reason.trim())
      setOpen(false)
      setReason('')
      setTyped('')
      props.onDone?.()
    } catch (error) {
      setProblem(
        error instanceof ApiError ? `${error.detail} (${error.status} ${error.code})` : String(error),
      )
    } finally {
      setBusy(false)
    }
  }

  const buttonClass = props.danger === true ? 'danger' : undefined
  const ready =
    !busy &&
    (props.reason !== 'required' || reason.trim() !== '') &&
    (props.confirmWord === undefined || typed === props.confirmWord)

  return (
    <div class="action">
      {!needsForm && (
        <button type="button" class={buttonClass} disabled={busy} onClick={() => void submit()}>
          {props.label}
        </button>
      )}
      {needsForm && !open && (
        <button type="button" class={buttonClass} onClick={() => setOpen(true)}>
          {props.label}…
        </button>
      )}
      {needsForm && open && (
        <form
          class="action-form"
          onSubmit={(event) => {
            event.preventDefault()
            if (ready) void submit()
          }}
        >
          {asksReason && (
            <label for={`${id}-reason`}>
              {props.reasonLabel ?? 'Reason'}
              {props.reason === 'required' ? ' (required)' : ''}
            </label>
          )}
          {asksReason && (
            <textarea
              id={`${id}-reason`}
              value={reason}
              onInput={(e) => setReason(e.currentTarget.value)}
              rows={2}
            />
          )}
          {props.confirmWord !== undefined && (
            <label for={`${id}-confirm`}>
              Type <strong>{props.confirmWord}</strong> to confirm
            </label>
          )}
          {props.confirmWord !== undefined && (
            <input
              id={`${id}-confirm`}
              value={typed}
              onInput={(e) => setTyped(e.currentTarget.value)}
              autocomplete="off"
            />
          )}
          <div class="buttons">
            <button type="submit" class={buttonClass} disabled={!ready}>
              {props.label}
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {problem !== null && (
        <p class="problem" role="alert">
          {problem}
        </p>
      )}
    </div>
  )
}
