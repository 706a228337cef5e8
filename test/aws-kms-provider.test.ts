import {
  CreateAliasCommand,
  CreateKeyCommand,
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  KMSInternalException,
  ListAliasesCommand,
  ScheduleKeyDeletionCommand,
  UpdateAliasCommand,
} from '@aws-sdk/client-kms'
import { KMSServiceException } from '@aws-sdk/client-kms'
import { beforeEach, describe, expect, it } from 'vitest'
import { ALGORITHMS, isAsymmetric, type Algorithm } from '../src/domain/algorithms.js'
import { KeyrotorError } from '../src/errors.js'
import { createAwsKmsProvider, type AwsKmsProvider } from '../src/providers/aws-kms/aws-kms-provider.js'
import type { AwsKmsSettings } from '../src/config/provider-settings.js'
import type { ProviderKeyRef } from '../src/providers/key-provider.js'
import { createKmsFake, type KmsFake } from './fakes/kms-fake.js'

const settings: AwsKmsSettings = { type: 'aws-kms', region: 'eu-west-1' }
const noWait = { sleep: async () => undefined }

async function errorOf(promise: Promise<unknown>): Promise<KeyrotorError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(KeyrotorError)
    return error as KeyrotorError
  }
  throw new Error('expected a KeyrotorError')
}

let kms: KmsFake
let provider: AwsKmsProvider
beforeEach(() => {
  kms = createKmsFake()
  provider = createAwsKmsProvider(settings, { client: kms.client, retry: noWait })
})

describe('aws-kms provider on the stubbed SDK client', () => {
  const key: ProviderKeyRef = { keyId: 'payments-signing', algorithm: 'ec-p256' }

  it('creates one tagged KMS key per version, reachable through its own alias', async () => {
    const created = await provider.createVersion(key, 1)
    expect(kms.mock.commandCalls(DescribeKeyCommand)[0]?.args[0].input).toEqual({
      KeyId: 'alias/keyrotor/payments-signing/v1',
    })
    expect(kms.mock.commandCalls(CreateKeyCommand).map((c) => c.args[0].input)).toEqual([
      {
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        Description: 'keyrotor payments-signing.v1',
        Tags: [
          { TagKey: 'keyrotor:key', TagValue: 'payments-signing' },
          { TagKey: 'keyrotor:version', TagValue: '1' },
        ],
      },
    ])
    const [kmsKey] = [...kms.keys.values()]
    expect(kms.mock.commandCalls(CreateAliasCommand).map((c) => c.args[0].input)).toEqual([
      { AliasName: 'alias/keyrotor/payments-signing/v1', TargetKeyId: kmsKey?.metadata.KeyId },
    ])
    expect(created).toMatchObject({ version: 1, state: 'enabled', providerRef: kmsKey?.metadata.Arn })
    // a retried create finds the version through its alias and makes nothing
    expect(await provider.createVersion(key, 1)).toEqual(created)
    expect(kms.mock.commandCalls(CreateKeyCommand)).toHaveLength(1)
  })

  it('ends with one version when instances race, scheduling the loser’s key for deletion', async () => {
    const other = createAwsKmsProvider(settings, { client: kms.client, retry: noWait })
    const [a, b] = await Promise.all([provider.createVersion(key, 1), other.createVersion(key, 1)])
    expect(a).toEqual(b)
    expect(kms.mock.commandCalls(CreateKeyCommand)).toHaveLength(2)
    const loser = [...kms.keys.values()].find((k) => k.metadata.Arn !== a.providerRef)
    expect(kms.mock.commandCalls(ScheduleKeyDeletionCommand).map((c) => c.args[0].input)).toEqual([
      { KeyId: loser?.metadata.KeyId, PendingWindowInDays: 7 },
    ])
    expect((await provider.listVersions(key)).map((v) => v.providerRef)).toEqual([a.providerRef])
  })

  it('refuses an existing version of another algorithm as a conflict', async () => {
    await provider.createVersion(key, 1)
    const e = await errorOf(provider.createVersion({ ...key, algorithm: 'rsa-2048' }, 1))
    expect(e.code).toBe('CONFLICT')
  })

  describe.each(ALGORITHMS)('%s', (algorithm: Algorithm) => {
    const k: ProviderKeyRef = { keyId: `kms-${algorithm}`, algorithm }

    it('self-tests in KMS, publishes the public key, never exports, and walks disable, enable, destroy', async () => {
      await provider.createVersion(k, 1)
      await provider.createVersion(k, 2)
      expect((await provider.listVersions(k)).map((v) => [v.version, v.state])).toEqual([
        [1, 'enabled'],
        [2, 'enabled'],
      ])
      const test = await provider.selfTest(k, 1)
      expect(test.passed, test.detail).toBe(true)
      const jwk = await provider.publicJwk(k, 1)
      if (isAsymmetric(algorithm)) {
        // the JWK is the public half of the very KMS key that signed in the self-test
        const kmsKey = kms.keys.get(kms.aliases.get(`alias/keyrotor/${k.keyId}/v1`) ?? '')
        expect(jwk).toEqual({
          ...kmsKey?.publicKey?.export({ format: 'jwk' }),
          kid: `${k.keyId}.v1`,
          alg: expect.any(String),
          use: 'sig',
        })
        expect(jwk).not.toHaveProperty('d')
      } else expect(jwk).toBeNull()
      expect((await errorOf(provider.exportMaterial(k, 1))).code).toBe('MATERIAL_UNAVAILABLE')

      const kmsKeyId = (await provider.describeVersion(k, 2))?.providerRef.replace(/^.*key\//, '')
      await provider.setVersionState(k, 2, 'disabled')
      await provider.setVersionState(k, 2, 'disabled')
      expect(kms.mock.commandCalls(DisableKeyCommand).map((c) => c.args[0].input)).toEqual([
        { KeyId: kmsKeyId },
      ])
      expect((await provider.describeVersion(k, 2))?.state).toBe('disabled')
      expect((await provider.selfTest(k, 2)).passed).toBe(false)
      await provider.setVersionState(k, 2, 'enabled')
      expect(kms.mock.commandCalls(EnableKeyCommand).map((c) => c.args[0].input)).toEqual([
        { KeyId: kmsKeyId },
      ])
      await provider.setVersionState(k, 2, 'destroyed')
      await provider.setVersionState(k, 2, 'destroyed')
      expect(kms.mock.commandCalls(ScheduleKeyDeletionCommand).map((c) => c.args[0].input)).toEqual([
        { KeyId: kmsKeyId, PendingWindowInDays: 30 },
      ])
      expect((await provider.describeVersion(k, 2))?.state).toBe('destroyed')
      expect((await provider.selfTest(k, 2)).passed).toBe(false)
      expect((await errorOf(provider.setVersionState(k, 2, 'enabled'))).code).toBe('ILLEGAL_TRANSITION')
    })
  })

  it('schedules deletion with the configured window', async () => {
    const short = createAwsKmsProvider(
      { ...settings, deletionWindow: '7d' },
      { client: kms.client, retry: noWait },
    )
    await short.createVersion(key, 1)
    await short.setVersionState(key, 1, 'destroyed')
    expect(kms.mock.commandCalls(ScheduleKeyDeletionCommand)[0]?.args[0].input).toMatchObject({
      PendingWindowInDays: 7,
    })
  })

  it('creates an alias when absent, moves it with UpdateAlias, and refuses what the rules refuse', async () => {
    await provider.createVersion(key, 1)
    await provider.createVersion(key, 2)
    const rival: ProviderKeyRef = { keyId: 'rival', algorithm: 'ec-p256' }
    await provider.createVersion(rival, 1)
    const kmsIdOf = async (v: number) =>
      (await provider.describeVersion(key, v))?.providerRef.replace(/^.*key\//, '')
    expect(await provider.getAlias(key, 'alias/signing')).toBeNull()
    await provider.setAlias(key, 'alias/signing', 1)
    await provider.setAlias(key, 'alias/signing', 1)
    await provider.setAlias(key, 'alias/signing', 2)
    expect(kms.mock.commandCalls(CreateAliasCommand).slice(-1)[0]?.args[0].input).toEqual({
      AliasName: 'alias/signing',
      TargetKeyId: await kmsIdOf(1),
    })
    expect(kms.mock.commandCalls(UpdateAliasCommand).map((c) => c.args[0].input)).toEqual([
      { AliasName: 'alias/signing', TargetKeyId: await kmsIdOf(2) },
    ])
    expect(await provider.getAlias(key, 'alias/signing')).toBe(2)
    expect((await errorOf(provider.setAlias(rival, 'alias/signing', 1))).code).toBe('CONFLICT')
    expect(await provider.getAlias(rival, 'alias/signing')).toBeNull()
    expect((await errorOf(provider.setAlias(key, 'alias/signing', 7))).code).toBe('NOT_FOUND')
    await provider.setVersionState(key, 1, 'disabled')
    expect((await errorOf(provider.setAlias(key, 'alias/signing', 1))).code).toBe('ILLEGAL_TRANSITION')
    expect(await provider.getAlias(key, 'alias/signing')).toBe(2)
  })

  it('lists versions across ListAliases pages', async () => {
    kms.pageSize = 2
    for (const v of [1, 2, 3, 4, 5]) await provider.createVersion(key, v)
    expect((await provider.listVersions(key)).map((v) => v.version)).toEqual([1, 2, 3, 4, 5])
    expect(kms.mock.commandCalls(ListAliasesCommand).length).toBeGreaterThanOrEqual(3)
  })

  describe('failures', () => {
    const throttled = () =>
      new KMSServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        message: 'Rate exceeded',
        $metadata: { httpStatusCode: 400 },
      })

    it('retries throttling with growing backoff and succeeds', async () => {
      const waits: number[] = []
      const patient = createAwsKmsProvider(settings, {
        client: kms.client,
        retry: { sleep: async (ms) => void waits.push(ms), baseDelayMs: 100 },
      })
      kms.failNext(DescribeKeyCommand, throttled(), throttled())
      expect(await patient.describeVersion(key, 1)).toBeNull()
      expect(kms.mock.commandCalls(DescribeKeyCommand)).toHaveLength(3)
      expect(waits).toHaveLength(2)
      expect(waits[0]).toBeLessThanOrEqual(100)
      expect(waits[1]).toBeLessThanOrEqual(200)
    })

    it('is PROVIDER_TRANSIENT (retryable) when throttling or a 5xx outlasts the retries', async () => {
      kms.failAlways(DescribeKeyCommand, throttled())
      const e = await errorOf(provider.createVersion(key, 1))
      expect(e).toMatchObject({ code: 'PROVIDER_TRANSIENT', retryable: true })
      expect(e.message).toMatch(/aws-kms describe payments-signing\.v1 failed: ThrottlingException/)
      expect(kms.mock.commandCalls(DescribeKeyCommand)).toHaveLength(4)
      expect(kms.mock.commandCalls(CreateKeyCommand)).toHaveLength(0)

      kms.failAlways(
        DescribeKeyCommand,
        new KMSInternalException({ message: 'internal', $metadata: { httpStatusCode: 500 } }),
      )
      expect((await errorOf(provider.describeVersion(key, 1))).code).toBe('PROVIDER_TRANSIENT')
    })

    it('is PROVIDER_ERROR at once for a refusal, naming the operation', async () => {
      const denied = new KMSServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        message: 'User is not authorized to perform kms:CreateKey',
        $metadata: { httpStatusCode: 400 },
      })
      kms.failAlways(CreateKeyCommand, denied)
      const e = await errorOf(provider.createVersion(key, 1))
      expect(e).toMatchObject({ code: 'PROVIDER_ERROR', retryable: false })
      expect(e.message).toMatch(/create payments-signing\.v1 failed: AccessDeniedException/)
      expect(kms.mock.commandCalls(CreateKeyCommand)).toHaveLength(1)
      expect(kms.aliases.size).toBe(0)
    })

    it('check() asks KMS once, and names a refusal as a configuration problem', async () => {
      await provider.check([...ALGORITHMS])
      expect(kms.mock.commandCalls(ListAliasesCommand)[0]?.args[0].input).toEqual({ Limit: 1 })
      kms.failAlways(
        ListAliasesCommand,
        new KMSServiceException({
          name: 'UnrecognizedClientException',
          $fault: 'client',
          message: 'The security token included in the request is invalid.',
          $metadata: { httpStatusCode: 400 },
        }),
      )
      const e = await errorOf(provider.check())
      expect(e.code).toBe('INVALID_CONFIG')
      expect(e.message).toMatch(/aws-kms in eu-west-1 does not answer.*UnrecognizedClientException/)
    })
  })
})
