import type * as Kms from '@aws-sdk/client-kms'
import type { KeyMetadata, KMSClient } from '@aws-sdk/client-kms'
import { createRequire } from 'node:module'
import { isAsymmetric, kidOf, type Algorithm } from '../../domain/algorithms.js'
import { KeyrotorError } from '../../errors.js'
import type { KeyProvider, ProviderKeyRef, ProviderVersion } from '../key-provider.js'
import type { AwsKmsSettings } from '../../config/provider-settings.js'
import { parseDuration } from '../../domain/duration.js'
import { errorName, isNotFound } from './kms-errors.js'
import { createKmsCaller, type RetryPolicy } from './kms-retry.js'
import { publicJwkOf, selfTestInKms } from './kms-self-test.js'
import { algorithmOfKeySpec, KMS_ALGORITHMS, kmsAliasName, versionAlias } from './kms-specs.js'
import { checked, STATES, toVersion } from './kms-versions.js'

// The AWS SDK takes about 0.4 s to load: only a process that builds an aws-kms provider pays it.
// (`require`, not `import()`: provider factories are synchronous; the SDK ships CommonJS.)
const loadKms = () => createRequire(import.meta.url)('@aws-sdk/client-kms') as typeof Kms

export interface AwsKmsProvider extends KeyProvider {
  /** Whether KMS answers with these credentials; INVALID_CONFIG or PROVIDER_TRANSIENT naming why. */
  check(algorithms?: readonly Algorithm[]): Promise<void>
  supportedAlgorithms(): Promise<Algorithm[]>
  close(): Promise<void>
}

/**
 * Keys in AWS KMS: one KMS key per version, tagged `keyrotor:key` / `keyrotor:version`, reached
 * through its own alias `alias/keyrotor/{key}/v{n}`. Material never leaves KMS. The SDK's own
 * retries are turned off for a client built here, so the backoff of kms-retry.ts is the one policy.
 */
export function createAwsKmsProvider(
  settings: AwsKmsSettings,
  deps: { client?: KMSClient; retry?: Partial<RetryPolicy> },
): AwsKmsProvider {
  const {
    CreateAliasCommand,
    CreateKeyCommand,
    DescribeKeyCommand,
    DisableKeyCommand,
    EnableKeyCommand,
    KMSClient: Client,
    ListAliasesCommand,
    ListResourceTagsCommand,
    ScheduleKeyDeletionCommand,
    UpdateAliasCommand,
  } = loadKms()
  const client =
    deps.client ??
    new Client({
      region: settings.region,
      maxAttempts: 1,
      ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    })
  const call = createKmsCaller(deps.retry)
  const where = `aws-kms in ${settings.region}`
  // the settings schema holds the window to whole days between 7 and 30
  const deletionWindowDays = Math.round(parseDuration(settings.deletionWindow ?? '30d') / 86_400_000)

  const metadataOf = async (keyId: string, version: number): Promise<KeyMetadata | null> => {
    try {
      const out = await call(`describe ${kidOf(keyId, version)}`, () =>
        client.send(new DescribeKeyCommand({ KeyId: versionAlias(keyId, version) })),
      )
      return out.KeyMetadata ?? null
    } catch (error) {
      if (isNotFound(error)) return null
      throw error
    }
  }

  const requireMeta = async (key: ProviderKeyRef, version: number): Promise<KeyMetadata> => {
    const meta = await metadataOf(key.keyId, version)
    if (meta === null)
      throw new KeyrotorError('NOT_FOUND', `version ${kidOf(key.keyId, version)} does not exist in ${where}`)
    return meta
  }

  /** The key and version a KMS key carries in its keyrotor tags. */
  const versionTagged = async (kmsKeyId: string): Promise<{ key?: string; version?: number }> => {
    const out = await call('list tags', () => client.send(new ListResourceTagsCommand({ KeyId: kmsKeyId })))
    const tag = (name: string) => out.Tags?.find((t) => t.TagKey === name)?.TagValue
    const version = tag('keyrotor:version')
    return { key: tag('keyrotor:key'), ...(version === undefined ? {} : { version: Number(version) }) }
  }

  const supported = async (): Promise<Algorithm[]> => Object.keys(KMS_ALGORITHMS) as Algorithm[]

  return {
    kind: 'aws-kms',

    async createVersion(key, version) {
      const kid = kidOf(key.keyId, version)
      const existing = await metadataOf(key.keyId, version)
      if (existing !== null) return checked(key, version, existing)
      const spec = KMS_ALGORITHMS[key.algorithm]
      const created = await call(`create ${kid}`, () =>
        client.send(
          new CreateKeyCommand({
            KeySpec: spec.keySpec,
            KeyUsage: spec.keyUsage,
            Description: `keyrotor ${kid}`,
            Tags: [
              { TagKey: 'keyrotor:key', TagValue: key.keyId },
              { TagKey: 'keyrotor:version', TagValue: String(version) },
            ],
          }),
        ),
      )
      const kmsKeyId = created.KeyMetadata?.KeyId as string
      try {
        await call(`create ${kid}`, () =>
          client.send(
            new CreateAliasCommand({ AliasName: versionAlias(key.keyId, version), TargetKeyId: kmsKeyId }),
          ),
        )
      } catch (error) {
        if (errorName(error) !== 'AlreadyExistsException') throw error
        // another instance created the version first: its key is the version, ours goes away
        await call(`create ${kid}`, () =>
          client.send(new ScheduleKeyDeletionCommand({ KeyId: kmsKeyId, PendingWindowInDays: 7 })),
        )
      }
      return checked(key, version, await requireMeta(key, version))
    },

    async describeVersion(key, version) {
      const meta = await metadataOf(key.keyId, version)
      return meta === null ? null : toVersion(key, version, meta)
    },

    async listVersions(key) {
      const prefix = `alias/keyrotor/${key.keyId}/v`
      const versions = new Set<number>()
      let marker: string | undefined
      do {
        const page = await call(`list versions of ${key.keyId}`, () =>
          client.send(new ListAliasesCommand({ ...(marker === undefined ? {} : { Marker: marker }) })),
        )
        for (const alias of page.Aliases ?? []) {
          const rest =
            alias.AliasName?.startsWith(prefix) === true ? alias.AliasName.slice(prefix.length) : ''
          if (/^\d+$/.test(rest)) versions.add(Number(rest))
        }
        marker = page.Truncated === true ? page.NextMarker : undefined
      } while (marker !== undefined)
      const found: ProviderVersion[] = []
      for (const version of [...versions].sort((a, b) => a - b)) {
        const meta = await metadataOf(key.keyId, version)
        if (meta !== null) found.push(toVersion(key, version, meta))
      }
      return found
    },

    async setAlias(key, alias, version) {
      const target = await requireMeta(key, version)
      if (STATES[target.KeyState ?? ''] !== 'enabled') {
        throw new KeyrotorError(
          'ILLEGAL_TRANSITION',
          `alias ${alias} cannot point at ${target.KeyState} version ${kidOf(key.keyId, version)}`,
        )
      }
      const name = kmsAliasName(alias)
      let current: KeyMetadata | undefined
      try {
        current = (
          await call(`set alias ${alias}`, () => client.send(new DescribeKeyCommand({ KeyId: name })))
        ).KeyMetadata
      } catch (error) {
        if (!isNotFound(error)) throw error
      }
      if (current === undefined) {
        await call(`set alias ${alias}`, () =>
          client.send(new CreateAliasCommand({ AliasName: name, TargetKeyId: target.KeyId })),
        )
        return
      }
      if (current.KeyId === target.KeyId) return
      const owner = await versionTagged(current.KeyId as string)
      if (owner.key !== key.keyId) {
        throw new KeyrotorError(
          'CONFLICT',
          `alias ${alias} belongs to ${owner.key === undefined ? 'a KMS key keyrotor did not make' : `key ${owner.key}`}, not ${key.keyId}`,
        )
      }
      await call(`set alias ${alias}`, () =>
        client.send(new UpdateAliasCommand({ AliasName: name, TargetKeyId: target.KeyId })),
      )
    },

    async getAlias(key, alias) {
      let current: KeyMetadata | undefined
      try {
        current = (
          await call(`get alias ${alias}`, () =>
            client.send(new DescribeKeyCommand({ KeyId: kmsAliasName(alias) })),
          )
        ).KeyMetadata
      } catch (error) {
        if (isNotFound(error)) return null
        throw error
      }
      const tagged = await versionTagged(current?.KeyId as string)
      return tagged.key === key.keyId && tagged.version !== undefined ? tagged.version : null
    },

    async setVersionState(key, version, state) {
      const kid = kidOf(key.keyId, version)
      const meta = await requireMeta(key, version)
      const now = toVersion(key, version, meta).state
      if (now === 'destroyed') {
        if (state === 'destroyed') return
        throw new KeyrotorError(
          'ILLEGAL_TRANSITION',
          `version ${kid} is scheduled for deletion; it cannot become ${state}`,
        )
      }
      if (now === state) return
      const KeyId = meta.KeyId as string
      if (state === 'disabled')
        await call(`disable ${kid}`, () => client.send(new DisableKeyCommand({ KeyId })))
      else if (state === 'enabled')
        await call(`enable ${kid}`, () => client.send(new EnableKeyCommand({ KeyId })))
      else {
        await call(`destroy ${kid}`, () =>
          client.send(new ScheduleKeyDeletionCommand({ KeyId, PendingWindowInDays: deletionWindowDays })),
        )
      }
    },

    async selfTest(key, version) {
      const kid = kidOf(key.keyId, version)
      const meta = await metadataOf(key.keyId, version)
      if (meta === null) return { passed: false, detail: `version ${kid} does not exist in ${where}` }
      if (meta.KeyState !== 'Enabled')
        return { passed: false, detail: `version ${kid} is ${meta.KeyState} in ${where}` }
      if (algorithmOfKeySpec(meta.KeySpec) !== key.algorithm) {
        return {
          passed: false,
          detail: `version ${kid} is a ${meta.KeySpec} KMS key, the key is ${key.algorithm}`,
        }
      }
      return selfTestInKms({ client, call }, key, version, meta.KeyId as string)
    },

    async publicJwk(key, version) {
      if (!isAsymmetric(key.algorithm)) return null
      const meta = await requireMeta(key, version)
      // KMS answers GetPublicKey only for an enabled key; keyrotor publishes only those
      if (meta.KeyState !== 'Enabled') return null
      return publicJwkOf({ client, call }, key, version, meta.KeyId as string)
    },

    async exportMaterial(key, version) {
      throw new KeyrotorError(
        'MATERIAL_UNAVAILABLE',
        `version ${kidOf(key.keyId, version)} lives in ${where} and never leaves it; use it through KMS`,
      )
    },

    supportedAlgorithms: supported,

    async check(algorithms = []) {
      try {
        await call('check', () => client.send(new ListAliasesCommand({ Limit: 1 })))
      } catch (error) {
        if (error instanceof KeyrotorError && error.code === 'PROVIDER_ERROR') {
          throw new KeyrotorError('INVALID_CONFIG', `${where} does not answer: ${error.message}`, {
            details: { problem: 'kms_refused' },
            cause: error,
          })
        }
        throw error
      }
      const offered = await supported()
      const missing = algorithms.filter((a) => !offered.includes(a))
      if (missing.length > 0) {
        throw new KeyrotorError('INVALID_CONFIG', `${where} cannot do ${missing.join(', ')}`, {
          details: { problem: 'algorithm_unsupported', algorithms: missing },
        })
      }
    },

    async close() {
      if (deps.client === undefined) client.destroy()
    },
  }
}
