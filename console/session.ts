import type { SessionView } from '../src/http/routes/session.js'
import type { Action } from '../src/governance/permissions.js'
import { createContext } from 'preact'
import { useContext } from 'preact/hooks'

/** The signed-in person; `may` says whether the role allows an action (the server still decides). */
export interface Session extends SessionView {
  may(action: Action): boolean
}

export function sessionOf(view: SessionView): Session {
  return { ...view, may: (action) => view.actions.includes(action) }
}

export const SessionContext = createContext<Session | null>(null)

export function useSession(): Session {
  const session = useContext(SessionContext)
  if (session === null) throw new Error('useSession outside a signed-in page')
  return session
}
