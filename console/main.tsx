import './console.css'
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import type { SessionView } from '../src/http/routes/session.js'
import { api, onUnauthenticated, storedToken, storeToken } from './api.js'
import { Layout } from './layout.js'
import { useHashPath } from './router.js'
import { routeTo } from './routes.js'
import { SessionContext, sessionOf, type Session } from './session.js'
import { SignIn } from './sign-in.js'

function App() {
  const [session, setSession] = useState<Session | null>(null)
  const [message, setMessage] = useState<string | null>(null)
  const [checking, setChecking] = useState(storedToken() !== null)
  const path = useHashPath()

  useEffect(() => {
    // a reload keeps the tab's token: check it is still good before showing anything
    if (storedToken() !== null) {
      api<SessionView>('GET', '/v1/session')
        .then((view) => setSession(sessionOf(view)))
        .catch(() => storeToken(null))
        .finally(() => setChecking(false))
    }
    return onUnauthenticated(() => {
      storeToken(null)
      setSession(null)
      setMessage('Your token is no longer accepted (expired or revoked): sign in again.')
    })
  }, [])

  if (checking) return <p class="loading">Checking your token…</p>
  if (session === null) {
    return (
      <SignIn
        message={message}
        onSignedIn={(token, view) => {
          storeToken(token)
          setMessage(null)
          setSession(sessionOf(view))
        }}
      />
    )
  }
  return (
    <SessionContext.Provider value={session}>
      <Layout
        path={path}
        onSignOut={() => {
          storeToken(null)
          setSession(null)
        }}
      >
        {routeTo(path)}
      </Layout>
    </SessionContext.Provider>
  )
}

render(<App />, document.getElementById('app')!)
