import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Where Debian's softhsm2 package puts the PKCS#11 module. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so'

/**
 * Whether SoftHSM2 is installed. Under CI=true a missing one is an error (.ci/run installs it);
 * elsewhere its suites are skipped with a notice.
 */
export function softhsmAvailable(): boolean {
  const present = existsSync(SOFTHSM_MODULE) && commandExists('softhsm2-util')
  if (present) return true
  if (process.env.CI === 'true') throw new Error(`CI=true but SoftHSM2 is missing (${SOFTHSM_MODULE})`)
  console.warn('NOTICE: SoftHSM2 is not installed (apt-get install softhsm2 opensc); its suites are skipped')
  return false
}

function commandExists(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

export interface SofthsmTokenSpec {
  label: string
  pin: string
  soPin: string
}

export interface Softhsm {
  /** The softhsm2.conf to put in SOFTHSM2_CONF. */
  conf: string
  /** `SOFTHSM2_CONF=conf` for child processes (pkcs11-tool, keyrotor). */
  env: Record<string, string>
  tokens: SofthsmTokenSpec[]
  /** Restores SOFTHSM2_CONF and deletes every token. */
  dispose(): void
}

/**
 * Throwaway SoftHSM2 tokens in a temp dir. SoftHSM reads SOFTHSM2_CONF when the module is
 * initialized, and sees only tokens that exist then, so this runs (and sets the variable for
 * this process) before any provider loads the module.
 */
export function createSofthsm(tokens: SofthsmTokenSpec[]): Softhsm {
  const dir = mkdtempSync(join(tmpdir(), 'keyrotor-softhsm-'))
  const tokenDir = join(dir, 'tokens')
  mkdirSync(tokenDir)
  const conf = join(dir, 'softhsm2.conf')
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`)
  const env = { SOFTHSM2_CONF: conf }
  for (const token of tokens) {
    execFileSync(
      'softhsm2-util',
      ['--init-token', '--free', '--label', token.label, '--pin', token.pin, '--so-pin', token.soPin],
      { env: { ...process.env, ...env }, stdio: 'ignore' },
    )
  }
  const previous = process.env.SOFTHSM2_CONF
  process.env.SOFTHSM2_CONF = conf
  return {
    conf,
    env,
    tokens,
    dispose() {
      if (previous === undefined) delete process.env.SOFTHSM2_CONF
      else process.env.SOFTHSM2_CONF = previous
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** `pkcs11-tool --list-objects` of a token, logged in: what an operator's own tool reports. */
export function listObjectsWithPkcs11Tool(softhsm: Softhsm, token: SofthsmTokenSpec): string {
  return execFileSync(
    'pkcs11-tool',
    [
      '--module',
      SOFTHSM_MODULE,
      '--token-label',
      token.label,
      '--list-objects',
      '--login',
      '--pin',
      token.pin,
    ],
    // stderr: pkcs11-tool warns for each value it may not read (CKR_ATTRIBUTE_SENSITIVE)
    { env: { ...process.env, ...softhsm.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  )
}
