import { KeyrotorError } from '../errors.js'

// A member whose last word is one of these holds a secret: `token`, `adminToken`, `hook_secret`,
// `material`, `newPassword`. Ids of such things (`tokenId`, `secretEnv`) end in another word and pass.
const SECRET_WORDS = new Set([
  'token',
  'secret',
  'secrets',
  'material',
  'password',
  'passphrase',
  'credential',
  'credentials',
  'authorization',
  'pin',
])
// Private members of a JWK (RFC 7518 §6.2.2, §6.3.2, §6.4; `k` of an oct key): key material itself.
const JWK_PRIVATE_MEMBERS = new Set(['k', 'd', 'p', 'q', 'dp', 'dq', 'qi', 'oth'])
const SECRET_PHRASES = ['private key', 'secret key', 'api key', 'master key', 'access key']
// the shape of a keyrotor bearer token, wherever it turns up
const TOKEN_VALUE = /kr_[A-Za-z0-9_-]{43}/

/**
 * Refuses (INTERNAL) audit details that look like they carry a secret, so that a careless caller
 * cannot put a token or key material into the permanent, exported audit log. Checks member names
 * at every depth and string values for bearer tokens. The error names the path, never the value.
 */
export function assertNoSecrets(details: Record<string, unknown>): void {
  const found = findSecret(details, 'details')
  if (found !== null) {
    throw new KeyrotorError('INTERNAL', `refusing to audit ${found}: it looks like a secret`)
  }
}

function findSecret(value: unknown, path: string): string | null {
  if (typeof value === 'string') return TOKEN_VALUE.test(value) ? path : null
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = findSecret(item, `${path}[${i}]`)
      if (found !== null) return found
    }
    return null
  }
  if (value !== null && typeof value === 'object') {
    for (const [name, member] of Object.entries(value)) {
      const here = `${path}.${name}`
      if (looksSecret(name)) return here
      const found = findSecret(member, here)
      if (found !== null) return found
    }
  }
  return null
}

export function looksSecret(name: string): boolean {
  if (JWK_PRIVATE_MEMBERS.has(name.toLowerCase())) return true
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0)
  const last = words.at(-1)
  if (last !== undefined && SECRET_WORDS.has(last)) return true
  const phrase = words.join(' ')
  return SECRET_PHRASES.some((p) => phrase.endsWith(p)) || words.includes('private')
}
