import { execFileSync } from 'node:child_process'
import { createHash, randomUUID } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import pkcs11js from 'pkcs11js'
import { afterAll, describe, expect, it } from 'vitest'
import { startJwtVerifier } from '../../src/demo/sample-services.js'
import type { KeyView, RunView } from '../../src/engine/views.js'
import { startHarness, waitForRun, type Harness } from '../helpers/harness.js'
import { keyYaml, planDependent, secretsOf } from '../helpers/sample-dependents.js'
import { createSofthsm, SOFTHSM_MODULE, softhsmAvailable, type Softhsm } from '../helpers/softhsm.js'

const KEY = 'auth-signing'
const TOKEN = { label: 'jwt-hsm', pin: 'jwt-user-pin-88', soPin: 'jwt-so-pin-99' }

/**
 * An issuer whose signing key stays in the HSM: it follows keyrotor's notices like any dependent
 * (accepts what is staged, switches on promote) and signs ES256 tokens inside the token with the
 * private key labelled by the active version's kid, as an HSM-backed service would.
 */
async function startHsmIssuer(port: number) {
  const lib = new pkcs11js.PKCS11()
  lib.load(SOFTHSM_MODULE)
  try {
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK })
  } catch (error) {
    // keyrotor (in this process) initialized the library already
    if ((error as pkcs11js.Pkcs11Error).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw error
  }
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === TOKEN.label)
  const session = lib.C_OpenSession(slot as Buffer, pkcs11js.CKF_SERIAL_SESSION)
  try {
    lib.C_Login(session, pkcs11js.CKU_USER, TOKEN.pin)
  } catch (error) {
    if ((error as pkcs11js.Pkcs11Error).code !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw error
  }
  let accepts = [1]
  let active = 1
  const server: Server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      response.setHeader('content-type', 'application/json')
      if (request.url?.endsWith('/probe') === true) {
        response.end(JSON.stringify({ key: KEY, accepts, active }))
        return
      }
      const notice = JSON.parse(body) as { event: string; version: number }
      if (notice.event === 'key.version.staged') accepts = [...new Set([...accepts, notice.version])]
      if (notice.event === 'key.version.promoted') active = notice.version
      if (notice.event === 'key.version.retired') accepts = accepts.filter((v) => v !== notice.version)
      response.end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))

  const issue = (sub: string): string => {
    const kid = `${KEY}.v${active}`
    lib.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_LABEL, value: kid },
    ])
    const [privateKey] = lib.C_FindObjects(session, 1)
    lib.C_FindObjectsFinal(session)
    const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid, typ: 'JWT' })).toString('base64url')
    const now = Math.floor(Date.now() / 1000)
    const claims = { sub, iss: 'hsm-issuer', iat: now, exp: now + 600, jti: randomUUID() }
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
    lib.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, privateKey as Buffer)
    // CKM_ECDSA signs the digest and answers r || s: exactly the JWS ES256 signature
    const signature = lib.C_Sign(session, createHash('sha256').update(input).digest(), Buffer.alloc(64))
    return `${input}.${Buffer.from(signature).toString('base64url')}`
  }
  return {
    issue,
    async close() {
      await new Promise((resolve) => server.close(resolve))
      lib.C_CloseSession(session)
    },
  }
}

/** PyJWT, a verifier nobody here wrote, checking a token against keyrotor's JWKS. */
function verifyWithPyJwt(jwt: string, jwks: unknown): string {
  const script = [
    'import json, sys, jwt',
    'data = json.loads(sys.stdin.read())',
    'keys = {k["kid"]: jwt.PyJWK(k) for k in data["jwks"]["keys"]}',
    'kid = jwt.get_unverified_header(data["jwt"])["kid"]',
    'print(jwt.decode(data["jwt"], keys[kid].key, algorithms=["ES256"])["sub"])',
  ].join('\n')
  return execFileSync('/usr/bin/python3', ['-c', script], {
    input: JSON.stringify({ jwt, jwks }),
    encoding: 'utf8',
  }).trim()
}

describe.skipIf(!softhsmAvailable())(
  'JWTs signed inside SoftHSM2 through two rotations and their revokes',
  () => {
    let hsm: Softhsm | undefined
    const cleanups: (() => Promise<void>)[] = []
    afterAll(async () => {
      for (const c of cleanups.reverse()) await c()
      hsm?.dispose()
    })

    it('verifies every token with jose verifiers and PyJWT, and the revoked versions stop verifying', async () => {
      hsm = createSofthsm([TOKEN])
      process.env.JWT_HSM_PIN = TOKEN.pin
      const issuerDep = await planDependent('hsm-issuer')
      const verifierDep = await planDependent('api-gateway')
      const key = keyYaml({
        id: KEY,
        algorithm: 'ec-p256',
        dependents: [issuerDep, verifierDep],
        policy: '{ gracePeriod: 3s, phaseTimeout: 10s, jwksMaxAge: 1s }',
      })
      const h: Harness = await startHarness(
        'sqlite',
        `providers:\n  hsm: { type: pkcs11, module: ${SOFTHSM_MODULE}, tokenLabel: ${TOKEN.label}, pinEnv: JWT_HSM_PIN }\nkeys:${key.replace('provider: local', 'provider: hsm')}`,
        { secrets: secretsOf([issuerDep, verifierDep]) },
      )
      cleanups.push(() => h.stop())
      const issuer = await startHsmIssuer(issuerDep.port)
      cleanups.push(() => issuer.close())
      const verifier = await startJwtVerifier({
        key: KEY,
        keyrotorUrl: h.url,
        secret: verifierDep.secret,
        port: verifierDep.port,
        name: 'api-gateway',
      })
      cleanups.push(() => verifier.close())

      const kept: string[] = [issuer.issue('v1-user')]
      for (const expected of [2, 3]) {
        const created = await h.api<RunView>('POST', `/v1/keys/${KEY}/rotations`, {})
        expect(created.status).toBe(201)
        expect(await waitForRun<RunView>(h, created.body.id)).toMatchObject({
          state: 'succeeded',
          toVersion: expected,
        })
        kept.push(issuer.issue(`v${expected}-user`))
        // the new version's token and the previous one's (retiring, still accepted) both verify; an
        // older one may already be revoked after the grace period of the rotation before
        for (const jwt of kept.slice(-2)) await verifier.verify(jwt)
        const jwks = (await h.api('GET', `/v1/keys/${KEY}/jwks.json`)).body
        expect(verifyWithPyJwt(kept.at(-1) as string, jwks)).toBe(`v${expected}-user`)
      }

      for (let i = 0; ; i++) {
        const revokes = (await h.api<RunView[]>('GET', `/v1/runs?key=${KEY}`)).body.filter(
          (r) => r.kind === 'revoke',
        )
        if (revokes.length >= 2 && revokes.every((r) => r.state === 'succeeded')) break
        if (i > 300) throw new Error(`revokes did not finish: ${JSON.stringify(revokes)}`)
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      const view = (await h.api<KeyView>('GET', `/v1/keys/${KEY}`)).body
      expect(view.versions.map((v) => [v.version, v.state, v.providerRef])).toEqual([
        [1, 'disabled', 'auth-signing.v1'],
        [2, 'disabled', 'auth-signing.v2'],
        [3, 'active', 'auth-signing.v3'],
      ])
      await verifier.verify(kept[2] as string)
      await expect(verifier.verify(kept[0] as string)).rejects.toThrow(/not accepted/)
      await expect(verifier.verify(kept[1] as string)).rejects.toThrow(/not accepted/)
      // and the token refuses to sign with a revoked version: its usage attribute is cleared
      expect(() => issuerSignsWith(1)).toThrow(/CKR_KEY_FUNCTION_NOT_PERMITTED/)

      function issuerSignsWith(version: number): void {
        const lib = new pkcs11js.PKCS11()
        lib.load(SOFTHSM_MODULE)
        const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === TOKEN.label)
        const session = lib.C_OpenSession(slot as Buffer, pkcs11js.CKF_SERIAL_SESSION)
        try {
          lib.C_FindObjectsInit(session, [
            { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
            { type: pkcs11js.CKA_LABEL, value: `${KEY}.v${version}` },
          ])
          const [privateKey] = lib.C_FindObjects(session, 1)
          lib.C_FindObjectsFinal(session)
          lib.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, privateKey as Buffer)
          lib.C_Sign(session, Buffer.alloc(32, 1), Buffer.alloc(64))
        } finally {
          lib.C_CloseSession(session)
        }
      }
    })
  },
)
