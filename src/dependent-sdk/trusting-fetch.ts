import { rootCertificates } from 'node:tls'
import { Agent, fetch as undiciFetch } from 'undici'

/**
 * A fetch that trusts `ca` (PEM: a private CA's certificate, or the server's own self-signed one)
 * besides Node's built-in roots, for a keyrotor served with `--tls-cert`. Node 20's global fetch
 * takes no CA per call, so this is undici (the library behind it) with an agent of its own.
 * Without `ca`, the global fetch.
 */
export function fetchTrusting(ca: string | Buffer | undefined): typeof fetch {
  if (ca === undefined) return fetch
  const pem = ca.toString()
  const known = byCa.get(pem)
  if (known !== undefined) return known
  // a `ca` option replaces the built-in roots: keep them, so a public certificate still works
  const dispatcher = new Agent({ connect: { ca: [...rootCertificates, pem] } })
  const trusting = (input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
    undiciFetch(input, { ...init, dispatcher })
  byCa.set(pem, trusting)
  return trusting
}

// one agent (and its pooled connections) per CA, not one per request
const byCa = new Map<string, typeof fetch>()
