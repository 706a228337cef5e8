import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'

const HOOK = 'examples/exec-providers/vault-transit-hook.py'

/** Runs the example hook's `jwk_of` on a public key as Transit returns it (PEM; raw base64 for Ed25519). */
function jwkOf(algorithm: string, publicKey: string): Record<string, unknown> {
  const script = [
    'import importlib.util, json, sys',
    `spec = importlib.util.spec_from_file_location("hook", ${JSON.stringify(HOOK)})`,
    'hook = importlib.util.module_from_spec(spec); spec.loader.exec_module(hook)',
    'print(json.dumps(hook.jwk_of(sys.argv[1], sys.argv[2])))',
  ].join('\n')
  return JSON.parse(
    execFileSync('python3', ['-c', script, algorithm, publicKey], {
      encoding: 'utf8',
      // no __pycache__ left beside the example
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    }),
  ) as Record<string, unknown>
}

// The hook is untested against a Vault server here; its one piece of logic that runs offline,
// turning Transit's public keys into JWKs for the JWKS, is checked against node:crypto.
describe('the example Vault Transit hook', () => {
  it.each([
    ['ec-p256', generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['rsa-2048', generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['rsa-3072', generateKeyPairSync('rsa', { modulusLength: 3072 })],
  ] as const)('turns a %s PEM public key into the JWK node:crypto makes of it', (algorithm, pair) => {
    const pem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()
    expect(jwkOf(algorithm, pem)).toEqual(pair.publicKey.export({ format: 'jwk' }))
  })

  it('turns a raw Ed25519 public key into its JWK', () => {
    const pair = generateKeyPairSync('ed25519')
    const jwk = pair.publicKey.export({ format: 'jwk' })
    const raw = Buffer.from(String(jwk.x), 'base64url').toString('base64')
    expect(jwkOf('ed25519', raw)).toEqual(jwk)
  })
})
