import { randomUUID } from 'node:crypto'
import type { ExecSettings } from '../../config/provider-settings.js'
import { parseDuration } from '../../domain/duration.js'
import { KeyrotorError } from '../../errors.js'
import type { KeyProvider, ProviderKeyRef, ProviderVersion } from '../key-provider.js'
import {
  parseAnswer,
  parseRefusal,
  type AnswerOf,
  type Operation,
  type VersionAnswer,
} from './exec-answers.js'
import { EX_TEMPFAIL, runHook } from './run-hook.js'

export interface ExecProviderDeps {
  /** keyrotor's environment; the hook inherits it minus keyrotor's own secrets (KEYROTOR_*). */
  env: Readonly<Record<string, string | undefined>>
  /**
   * The request's `correlationId`; a fresh id per call by default (the KeyProvider interface
   * carries no run context), which the hook can log to tie its lines to one call.
   */
  correlationId?: () => string
}

/** The key keyrotor asks `list-versions` about to prove a hook answers (config validate, start). */
export const CHECK_KEY = 'keyrotor-check'

/**
 * A provider driven by an external program (CONTRACT.md § Key backends, exec): one process per
 * call, `command… OPERATION`, the request as JSON on stdin, the answer as JSON on stdout. The
 * hook owns the backend; keyrotor checks every answer's shape and never retries a call itself
 * (the engine retries runs that failed as transient).
 */
export function createExecProvider(
  settings: ExecSettings,
  deps: ExecProviderDeps,
): KeyProvider & { check(): Promise<void>; close(): Promise<void> } {
  const timeoutMs = parseDuration(settings.timeout)
  const env = hookEnvironment(deps.env)
  const correlationId = deps.correlationId ?? randomUUID

  async function call<O extends Operation>(
    operation: O,
    key: ProviderKeyRef,
    fields: Record<string, unknown> = {},
  ): Promise<AnswerOf<O>> {
    const request = {
      key: key.keyId,
      algorithm: key.algorithm,
      ...fields,
      correlationId: correlationId(),
    }
    const outcome = await runHook({ command: settings.command, operation, request, timeoutMs, env })
    if (outcome.code === 0) return parseAnswer(operation, outcome.stdout)
    const detail = outcome.stderrLine === '' ? '' : `: ${outcome.stderrLine}`
    if (outcome.code === EX_TEMPFAIL) {
      throw new KeyrotorError(
        'PROVIDER_TRANSIENT',
        `exec provider ${operation}: the hook exited 75 (temporary failure)${detail}`,
        { retryable: true },
      )
    }
    const refused = outcome.code === 1 ? parseRefusal(operation, outcome.stdout) : null
    if (refused !== null) throw refused
    throw new KeyrotorError(
      'PROVIDER_ERROR',
      `exec provider ${operation}: the hook exited ${outcome.code}${detail}`,
    )
  }

  // the hook may not know when a version was made: then it is the time of the answer
  const toVersion = (key: ProviderKeyRef, answer: VersionAnswer): ProviderVersion => ({
    keyId: key.keyId,
    version: answer.version,
    state: answer.state,
    providerRef: answer.providerRef,
    createdAt: answer.createdAt ?? new Date().toISOString(),
  })

  /** An answer about another version than the one asked is as wrong as a malformed one. */
  const sameVersion = (operation: Operation, asked: number, answered: number) => {
    if (asked !== answered) throw wrongVersion(operation, answered, asked)
  }

  return {
    kind: 'exec',

    async createVersion(key, version) {
      const answer = await call('create-version', key, { version })
      sameVersion('create-version', version, answer.version)
      return toVersion(key, answer)
    },

    async describeVersion(key, version) {
      const answer = await call('describe-version', key, { version })
      if (answer === null) return null
      sameVersion('describe-version', version, answer.version)
      return toVersion(key, answer)
    },

    async listVersions(key) {
      const answer = await call('list-versions', key)
      return answer.versions.map((v) => toVersion(key, v)).sort((a, b) => a.version - b.version)
    },

    async setAlias(key, alias, version) {
      const answer = await call('set-alias', key, { alias, version })
      if (answer.version !== version) {
        throw new KeyrotorError(
          'PROVIDER_ERROR',
          `exec provider set-alias: the hook answered ${alias} -> ${answer.version ?? 'null'}, not v${version}`,
        )
      }
    },

    async getAlias(key, alias) {
      return (await call('get-alias', key, { alias })).version
    },

    async setVersionState(key, version, state) {
      const answer = await call('set-version-state', key, { version, state })
      sameVersion('set-version-state', version, answer.version)
      if (answer.state !== state) {
        throw new KeyrotorError(
          'PROVIDER_ERROR',
          `exec provider set-version-state: the hook answered v${version} ${answer.state}, not ${state}`,
        )
      }
    },

    async selfTest(key, version) {
      return call('self-test', key, { version })
    },

    async publicJwk(key, version) {
      return (await call('public-jwk', key, { version })).jwk
    },

    async exportMaterial(key, version) {
      return (await call('export-material', key, { version })).jwk
    },

    async check() {
      try {
        await call('list-versions', { keyId: CHECK_KEY, algorithm: 'aes-256-gcm' })
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        throw new Error(`${settings.command.join(' ')}: ${message}`, { cause: error })
      }
    },

    async close() {
      // one process per call: nothing stays open
    },
  }
}

function wrongVersion(operation: Operation, answered: number, asked: number): KeyrotorError {
  return new KeyrotorError(
    'PROVIDER_ERROR',
    `exec provider ${operation}: the hook answered about v${answered}, asked about v${asked}`,
  )
}

/** The hook's environment: keyrotor's, without keyrotor's own secrets (the master key, tokens). */
function hookEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && !name.startsWith('KEYROTOR_')) out[name] = value
  }
  return out
}
