import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { api, ApiError } from './api.js'

export interface Resource<T> {
  data: T | undefined
  error: ApiError | undefined
  reload: () => void
}

/**
 * GETs `path` and keeps it fresh: again every `refreshMs` (live lists) and on `reload()` after an
 * action. A failed refresh keeps the last data and shows the error; `path` null loads nothing.
 */
export function useResource<T>(path: string | null, refreshMs?: number): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<ApiError | undefined>(undefined)
  const [tick, setTick] = useState(0)
  const current = useRef(path)
  current.current = path

  useEffect(() => {
    if (path === null) return
    let live = true
    const load = () =>
      api<T>('GET', path).then(
        (value) => {
          if (!live || current.current !== path) return
          setData(value)
          setError(undefined)
        },
        (failure: unknown) => {
          if (live)
            setError(failure instanceof ApiError ? failure : new ApiError(0, 'ERROR', String(failure)))
        },
      )
    void load()
    const timer = refreshMs === undefined ? undefined : setInterval(() => void load(), refreshMs)
    return () => {
      live = false
      clearInterval(timer)
    }
  }, [path, refreshMs, tick])

  const reload = useCallback(() => setTick((n) => n + 1), [])
  return { data, error, reload }
}
