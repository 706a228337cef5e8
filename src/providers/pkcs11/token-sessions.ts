import pkcs11js from 'pkcs11js'
import { KeyrotorError } from '../../errors.js'
import { ckrName, ckrOf, isRecoverable, toKeyrotorError } from './pkcs11-errors.js'
import type { Pkcs11Settings } from '../../config/provider-settings.js'

/** How often one call is tried when the token or module fails under it. */
const RECOVERY_TRIES = 4

type Handle = pkcs11js.Handle
export type Pkcs11 = pkcs11js.PKCS11

/** Why the token cannot be used; `config validate` names it with the provider instance. */
export type OpenProblem = 'missing_pin' | 'module_not_loaded' | 'token_not_found' | 'login_refused'

/**
 * A PKCS#11 module may be loaded and initialized once per process, whatever the number of
 * provider instances using it: they share it, and the last one to close finalizes it.
 */
interface SharedModule {
  lib: Pkcs11
  users: number
  initialized: boolean
}
const modules = new Map<string, SharedModule>()

function loadModule(path: string): SharedModule {
  let shared = modules.get(path)
  if (shared === undefined) {
    const lib = new pkcs11js.PKCS11()
    try {
      lib.load(path)
    } catch (error) {
      throw openError('module_not_loaded', `module ${path} does not load: ${ckrName(error)}`)
    }
    shared = { lib, users: 0, initialized: false }
    modules.set(path, shared)
  }
  if (!shared.initialized) {
    try {
      // the async calls run on libuv's threads: the library must lock for itself
      shared.lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK })
    } catch (error) {
      // another user of the library in this process initialized it already: that is fine
      if (ckrOf(error) !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw error
    }
    shared.initialized = true
  }
  return shared
}

/** A slot handle is a CK_ULONG in the platform's byte order (little-endian here). */
function slotId(handle: Handle): number {
  return handle.length >= 8 ? Number(handle.readBigUInt64LE(0)) : handle.readUInt32LE(0)
}

function openError(problem: OpenProblem, message: string): KeyrotorError {
  return new KeyrotorError('PROVIDER_ERROR', message, { details: { problem } })
}

export interface TokenSessions {
  /**
   * Runs `work` on a logged-in read/write session that no other call uses meanwhile. After a
   * token or module failure the pool is dropped, the module re-initialized if it was finalized
   * under us, and `work` tried once more; failing again it is PROVIDER_TRANSIENT.
   */
  run<T>(operation: string, work: (lib: Pkcs11, session: Handle) => T | Promise<T>): Promise<T>
  /** The mechanisms (CKM_*) the token offers. */
  mechanisms(): Promise<number[]>
  /** Closes this instance's sessions; the last instance on a module finalizes it. */
  close(): Promise<void>
}

export function createTokenSessions(
  settings: Pkcs11Settings,
  env: Readonly<Record<string, string | undefined>>,
): TokenSessions {
  const where = `token "${settings.tokenLabel}" (module ${settings.module})`
  let shared: SharedModule | undefined
  let slot: Handle | undefined
  const idle: Handle[] = []
  // sessions opened before a reset are not handed back to the pool
  let generation = 0
  let closed = false

  const pin = (): string => {
    const value = env[settings.pinEnv]
    if (value === undefined || value === '') {
      throw openError('missing_pin', `the PIN variable ${settings.pinEnv} of ${where} is not set`)
    }
    return value
  }

  const findSlot = (lib: Pkcs11): Handle => {
    for (const candidate of lib.C_GetSlotList(true)) {
      if (settings.slot !== undefined && slotId(candidate) !== settings.slot) continue
      if (lib.C_GetTokenInfo(candidate).label.trim() === settings.tokenLabel) return candidate
    }
    const inSlot = settings.slot === undefined ? '' : ` in slot ${settings.slot}`
    throw openError(
      'token_not_found',
      `no token labelled "${settings.tokenLabel}"${inSlot} at module ${settings.module}`,
    )
  }

  const openSession = (): Handle => {
    if (closed) throw new KeyrotorError('PROVIDER_ERROR', `the pkcs11 provider of ${where} is closed`)
    // the most basic problem first: the module, then the token, then the PIN
    if (shared === undefined) {
      shared = loadModule(settings.module)
      shared.users += 1
    } else if (!shared.initialized) loadModule(settings.module)
    const lib = shared.lib
    slot ??= findSlot(lib)
    const thePin = pin()
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION)
    try {
      lib.C_Login(session, pkcs11js.CKU_USER, thePin)
    } catch (error) {
      // login state belongs to the application, not the session: the pool's first session did it
      if (ckrOf(error) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) {
        lib.C_CloseSession(session)
        if (isRecoverable(error)) throw error
        throw openError('login_refused', `login to ${where} refused: ${ckrName(error)}`)
      }
    }
    return session
  }

  const reset = (error: unknown): void => {
    generation += 1
    slot = undefined
    for (const session of idle.splice(0)) {
      try {
        shared?.lib.C_CloseSession(session)
      } catch {
        // the session is gone with the failure that brought us here
      }
    }
    if (shared !== undefined && ckrOf(error) === pkcs11js.CKR_CRYPTOKI_NOT_INITIALIZED) {
      shared.initialized = false
    }
  }

  const attempt = async <T>(work: (lib: Pkcs11, session: Handle) => T | Promise<T>): Promise<T> => {
    const session = idle.pop() ?? openSession()
    const lib = (shared as SharedModule).lib
    const born = generation
    try {
      const result = await work(lib, session)
      if (born === generation && !closed) idle.push(session)
      else lib.C_CloseSession(session)
      return result
    } catch (error) {
      if (!isRecoverable(error) && born === generation) idle.push(session)
      throw error
    }
  }

  return {
    async run(operation, work) {
      // A recoverable failure re-opens the sessions (and the module if it was finalized) and tries
      // again. Several tries with a growing, jittered pause: SoftHSM2 answers CKR_GENERAL_ERROR to
      // writers racing on one token, and one instance's reset can fail another's call in flight.
      // Every provider method is idempotent (check-then-act), so a retry is always safe.
      for (let tries = 1; ; tries += 1) {
        try {
          return await attempt(work)
        } catch (error) {
          if (!isRecoverable(error)) throw toKeyrotorError(error, operation)
          reset(error)
          if (tries >= RECOVERY_TRIES) throw toKeyrotorError(error, operation)
          await new Promise((resolve) => setTimeout(resolve, (10 << tries) + Math.random() * 20))
        }
      }
    },

    async mechanisms() {
      return this.run('list mechanisms', (lib) => lib.C_GetMechanismList(slot as Handle))
    },

    async close() {
      if (closed) return
      closed = true
      for (const session of idle.splice(0)) {
        try {
          shared?.lib.C_CloseSession(session)
        } catch {
          // closing after a token failure: nothing left to close
        }
      }
      if (shared === undefined) return
      shared.users -= 1
      if (shared.users === 0 && shared.initialized) {
        shared.initialized = false
        try {
          shared.lib.C_Finalize()
        } catch {
          // finalized already by another user of the library in this process
        }
      }
    },
  }
}
