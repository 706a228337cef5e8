import { useState } from 'preact/hooks'
import type { SessionView } from '../src/http/routes/session.js'
import { api, ApiError } from './api.js'

/** Asks for a token; an invalid one gets a clear message and nothing else is shown. */
export function SignIn(props: {
  message: string | null
  onSignedIn: (token: string, session: SessionView) => void
}) {
  const [token, setToken] = useState('')
  const [problem, setProblem] = useState<string | null>(props.message)
  const [busy, setBusy] = useState(false)

  async function signIn(event: Event) {
    event.preventDefault()
    setBusy(true)
    setProblem(null)
    try {
      const given = token.trim()
      props.onSignedIn(given, await api<SessionView>('GET', '/v1/session', undefined, given))
    } catch (error) {
      setProblem(
        error instanceof ApiError && error.status === 401
          ? 'This token is not valid: it is unknown, expired or revoked. Ask an admin for a new one (keyrotor token create).'
          : error instanceof ApiError && error.status === 403
            ? 'This token cannot use the console (consumer tokens are for services, not people).'
            : error instanceof ApiError
              ? error.detail
              : String(error),
      )
    } finally {
      setBusy(false)
    }
  }

  return (
    <main class="sign-in">
      <h1>keyrotor console</h1>
      <form onSubmit={(e) => void signIn(e)}>
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          autocomplete="off"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          placeholder="kr_…"
        />
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
        <p class="hint">The token stays in this tab only (sessionStorage) and is sent as a bearer header.</p>
        {problem !== null && (
          <p class="problem" role="alert">
            {problem}
          </p>
        )}
      </form>
    </main>
  )
}
