import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { JWK, JwksResponse, MaterialResponse } from '../../src/dependent-sdk/index.js'

/**
 * Stands in for keyrotor's two material endpoints until the real server exists: the material of a
 * version for a bearer token, and the public JWKS. Answers are typed with the SDK's own types, so
 * a change of those types breaks this fake at compile time. Key material is real (node:crypto).
 */
export type FakeAlgorithm = 'aes-256-gcm' | 'ec-p256' | 'ed25519'

export interface FakeKeyrotor {
  url: string
  /** Creates the next version with fresh material, published in the JWKS; returns its number. */
  addVersion(): number
  /** Takes a version out of the JWKS (as when its revoke run begins). */
  unpublish(version: number): void
  /** Makes the next `count` material or JWKS requests answer 503. */
  failNext(count: number): void
  /** Every request, as `METHOD path auth`, for assertions. */
  requests: string[]
  close(): Promise<void>
}

export async function startFakeKeyrotor(options: {
  key: string
  token: string
  algorithm: FakeAlgorithm
}): Promise<FakeKeyrotor> {
  const material = new Map<number, { private: JWK; public?: JWK; published: boolean }>()
  const requests: string[] = []
  let failures = 0

  const server = createServer((request, response) => {
    const path = request.url ?? '/'
    requests.push(`${request.method} ${path} ${request.headers.authorization ?? '-'}`)
    const send = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    }
    if (failures > 0) {
      failures--
      return send(503, { title: 'unavailable' })
    }
    const prefix = `/v1/keys/${options.key}`
    if (path === `${prefix}/jwks.json`) {
      const keys = [...material.values()].filter((m) => m.published && m.public).map((m) => m.public as JWK)
      const jwks: JwksResponse = { keys }
      return send(200, jwks)
    }
    const match = new RegExp(`^${prefix}/versions/(\\d+)/material$`).exec(path)
    if (match !== null) {
      if (request.headers.authorization !== `Bearer ${options.token}`)
        return send(401, { code: 'UNAUTHENTICATED' })
      const found = material.get(Number(match[1]))
      if (found === undefined) return send(404, { code: 'NOT_FOUND' })
      const answer: MaterialResponse = found.private
      return send(200, answer)
    }
    send(404, { code: 'NOT_FOUND' })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    addVersion() {
      const version = material.size + 1
      const kid = `${options.key}.v${version}`
      material.set(version, { ...generate(options.algorithm, kid), published: true })
      return version
    },
    unpublish(version) {
      const found = material.get(version)
      if (found !== undefined) found.published = false
    },
    failNext(count) {
      failures = count
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

function generate(algorithm: FakeAlgorithm, kid: string): { private: JWK; public?: JWK } {
  if (algorithm === 'aes-256-gcm') {
    return { private: { kty: 'oct', k: randomBytes(32).toString('base64url'), alg: 'A256GCM', kid } }
  }
  const pair =
    algorithm === 'ec-p256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('ed25519')
  const alg = algorithm === 'ec-p256' ? 'ES256' : 'EdDSA'
  const publicJwk = { ...(pair.publicKey.export({ format: 'jwk' }) as JWK), alg, kid, use: 'sig' }
  return { private: { ...(pair.privateKey.export({ format: 'jwk' }) as JWK), alg, kid }, public: publicJwk }
}
