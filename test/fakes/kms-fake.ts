import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto'
import {
  AlreadyExistsException,
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  DisabledException,
  DisableKeyCommand,
  EnableKeyCommand,
  EncryptCommand,
  GenerateMacCommand,
  GetPublicKeyCommand,
  KMSClient,
  KMSInvalidStateException,
  ListAliasesCommand,
  ListResourceTagsCommand,
  NotFoundException,
  ScheduleKeyDeletionCommand,
  SignCommand,
  UpdateAliasCommand,
  VerifyMacCommand,
  type CreateKeyCommandInput,
  type KeyMetadata,
  type Tag,
} from '@aws-sdk/client-kms'
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock'

/**
 * An in-memory AWS KMS behind the real SDK client: the SDK's `send` is stubbed by
 * aws-sdk-client-mock, and each command answers from this state with real crypto (AES-GCM,
 * HMAC, RSA/ECDSA/Ed25519 signatures), with KMS's own exceptions for missing keys, taken aliases
 * and keys in the wrong state. No AWS endpoint is reachable from here.
 */
export interface FakeKmsKey {
  metadata: KeyMetadata
  tags: Tag[]
  secret?: Buffer
  privateKey?: KeyObject
  publicKey?: KeyObject
}

export interface KmsFake {
  client: KMSClient
  mock: AwsClientStub<KMSClient>
  keys: Map<string, FakeKmsKey>
  aliases: Map<string, string>
  /** Aliases listed per ListAliases page, to exercise pagination. */
  pageSize: number
  /** The next calls of `command` fail with these errors, in order (then it answers again). */
  failNext(command: CommandClass, ...errors: Error[]): void
  /** Every call of `command` fails with `error` from now on. */
  failAlways(command: CommandClass, error: Error): void
}

type CommandClass = abstract new (...args: never[]) => unknown

const REGION = 'eu-west-1'
const ACCOUNT = '111122223333'
const meta = { $metadata: {} }

export function createKmsFake(): KmsFake {
  const client = new KMSClient({
    region: REGION,
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake' },
  })
  const stub = mockClient(client)
  const injected = new Map<CommandClass, { next: Error[]; always?: Error }>()
  const faults = (command: CommandClass) => {
    let entry = injected.get(command)
    if (entry === undefined) injected.set(command, (entry = { next: [] }))
    return entry
  }
  const fake: KmsFake = {
    client,
    mock: stub,
    keys: new Map(),
    aliases: new Map(),
    pageSize: 50,
    failNext: (command, ...errors) => void faults(command).next.push(...errors),
    failAlways: (command, error) => void (faults(command).always = error),
  }
  // every command first fails as told, then answers from the state
  const mock = {
    on: <C extends CommandClass>(command: C) => ({
      callsFake: (answer: (input: never) => unknown) =>
        stub.on(command as never).callsFake((input: unknown) => {
          const entry = faults(command)
          const error = entry.next.shift() ?? entry.always
          if (error !== undefined) throw error
          return answer(input as never)
        }),
    }),
  }

  const find = (id: string | undefined): FakeKmsKey => {
    const keyId = id?.startsWith('alias/') === true ? fake.aliases.get(id) : id?.replace(/^arn:.*:key\//, '')
    const key = keyId === undefined ? undefined : fake.keys.get(keyId)
    if (key === undefined) throw new NotFoundException({ message: `Key '${id}' does not exist`, ...meta })
    return key
  }
  const usable = (id: string | undefined): FakeKmsKey => {
    const key = find(id)
    const state = key.metadata.KeyState
    if (state === 'Disabled')
      throw new DisabledException({ message: `${key.metadata.Arn} is disabled.`, ...meta })
    if (state !== 'Enabled')
      throw new KMSInvalidStateException({ message: `${key.metadata.Arn} is pending deletion.`, ...meta })
    return key
  }

  mock.on(CreateKeyCommand).callsFake((input: CreateKeyCommandInput) => {
    const keyId = randomUUID()
    const key: FakeKmsKey = {
      metadata: {
        KeyId: keyId,
        Arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`,
        KeySpec: input.KeySpec ?? 'SYMMETRIC_DEFAULT',
        KeyUsage: input.KeyUsage ?? 'ENCRYPT_DECRYPT',
        KeyState: 'Enabled',
        Enabled: true,
        CreationDate: new Date(),
        Description: input.Description ?? '',
      },
      tags: input.Tags ?? [],
    }
    const spec = key.metadata.KeySpec
    if (spec === 'SYMMETRIC_DEFAULT' || spec === 'HMAC_256') key.secret = randomBytes(32)
    else {
      const pair =
        spec === 'RSA_2048' || spec === 'RSA_3072'
          ? generateKeyPairSync('rsa', { modulusLength: spec === 'RSA_2048' ? 2048 : 3072 })
          : spec === 'ECC_NIST_P256'
            ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
            : generateKeyPairSync('ed25519')
      key.privateKey = pair.privateKey
      key.publicKey = pair.publicKey
    }
    fake.keys.set(keyId, key)
    return { KeyMetadata: key.metadata, ...meta }
  })

  mock.on(CreateAliasCommand).callsFake((input: { AliasName: string; TargetKeyId: string }) => {
    if (fake.aliases.has(input.AliasName)) {
      throw new AlreadyExistsException({
        message: `An alias with the name ${input.AliasName} already exists`,
        ...meta,
      })
    }
    fake.aliases.set(input.AliasName, find(input.TargetKeyId).metadata.KeyId as string)
    return meta
  })
  mock.on(UpdateAliasCommand).callsFake((input: { AliasName: string; TargetKeyId: string }) => {
    if (!fake.aliases.has(input.AliasName))
      throw new NotFoundException({ message: `Alias ${input.AliasName} does not exist`, ...meta })
    fake.aliases.set(input.AliasName, find(input.TargetKeyId).metadata.KeyId as string)
    return meta
  })
  mock
    .on(DescribeKeyCommand)
    .callsFake((input: { KeyId: string }) => ({ KeyMetadata: { ...find(input.KeyId).metadata }, ...meta }))
  mock
    .on(ListResourceTagsCommand)
    .callsFake((input: { KeyId: string }) => ({ Tags: find(input.KeyId).tags, Truncated: false, ...meta }))
  mock.on(ListAliasesCommand).callsFake((input: { Marker?: string; Limit?: number }) => {
    const all = [...fake.aliases].map(([AliasName, TargetKeyId]) => ({ AliasName, TargetKeyId }))
    const start = Number(input.Marker ?? 0)
    const size = input.Limit ?? fake.pageSize
    const end = start + size
    return {
      Aliases: all.slice(start, end),
      Truncated: end < all.length,
      ...(end < all.length ? { NextMarker: String(end) } : {}),
      ...meta,
    }
  })

  const setState = (id: string, state: 'Enabled' | 'Disabled') => {
    const key = find(id)
    if (key.metadata.KeyState === 'PendingDeletion')
      throw new KMSInvalidStateException({ message: `${key.metadata.Arn} is pending deletion.`, ...meta })
    key.metadata.KeyState = state
    key.metadata.Enabled = state === 'Enabled'
    return meta
  }
  mock.on(DisableKeyCommand).callsFake((input: { KeyId: string }) => setState(input.KeyId, 'Disabled'))
  mock.on(EnableKeyCommand).callsFake((input: { KeyId: string }) => setState(input.KeyId, 'Enabled'))
  mock.on(ScheduleKeyDeletionCommand).callsFake((input: { KeyId: string; PendingWindowInDays?: number }) => {
    const key = find(input.KeyId)
    if (key.metadata.KeyState === 'PendingDeletion')
      throw new KMSInvalidStateException({ message: `${key.metadata.Arn} is pending deletion.`, ...meta })
    key.metadata.KeyState = 'PendingDeletion'
    key.metadata.Enabled = false
    key.metadata.DeletionDate = new Date(Date.now() + (input.PendingWindowInDays ?? 30) * 86_400_000)
    return {
      KeyId: key.metadata.Arn,
      KeyState: 'PendingDeletion',
      PendingWindowInDays: input.PendingWindowInDays ?? 30,
      ...meta,
    }
  })

  mock
    .on(EncryptCommand)
    .callsFake(
      (input: { KeyId: string; Plaintext: Uint8Array; EncryptionContext?: Record<string, string> }) => {
        const key = usable(input.KeyId)
        const iv = randomBytes(12)
        const cipher = createCipheriv('aes-256-gcm', key.secret as Buffer, iv).setAAD(
          Buffer.from(JSON.stringify(input.EncryptionContext ?? {})),
        )
        const body = Buffer.concat([cipher.update(input.Plaintext), cipher.final()])
        const blob = Buffer.concat([Buffer.from(key.metadata.KeyId as string), iv, cipher.getAuthTag(), body])
        return { CiphertextBlob: blob, KeyId: key.metadata.Arn, ...meta }
      },
    )
  mock
    .on(DecryptCommand)
    .callsFake(
      (input: { KeyId: string; CiphertextBlob: Uint8Array; EncryptionContext?: Record<string, string> }) => {
        const key = usable(input.KeyId)
        const blob = Buffer.from(input.CiphertextBlob).subarray(36)
        const decipher = createDecipheriv('aes-256-gcm', key.secret as Buffer, blob.subarray(0, 12))
          .setAAD(Buffer.from(JSON.stringify(input.EncryptionContext ?? {})))
          .setAuthTag(blob.subarray(12, 28))
        return {
          Plaintext: Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]),
          KeyId: key.metadata.Arn,
          ...meta,
        }
      },
    )
  const mac = (key: FakeKmsKey, message: Uint8Array) =>
    createHmac('sha256', key.secret as Buffer)
      .update(message)
      .digest()
  mock.on(GenerateMacCommand).callsFake((input: { KeyId: string; Message: Uint8Array }) => ({
    Mac: mac(usable(input.KeyId), input.Message),
    ...meta,
  }))
  mock.on(VerifyMacCommand).callsFake((input: { KeyId: string; Message: Uint8Array; Mac: Uint8Array }) => {
    const expected = mac(usable(input.KeyId), input.Message)
    return { MacValid: expected.length === input.Mac.length && timingSafeEqual(expected, input.Mac), ...meta }
  })
  mock
    .on(SignCommand)
    .callsFake((input: { KeyId: string; Message: Uint8Array; SigningAlgorithm: string }) => {
      const key = usable(input.KeyId)
      const digest = input.SigningAlgorithm === 'ED25519_SHA_512' ? null : 'sha256'
      return { Signature: sign(digest, input.Message, key.privateKey as KeyObject), ...meta }
    })
  mock.on(GetPublicKeyCommand).callsFake((input: { KeyId: string }) => {
    const key = usable(input.KeyId)
    if (key.publicKey === undefined)
      throw new KMSInvalidStateException({ message: 'not an asymmetric key', ...meta })
    return {
      PublicKey: key.publicKey.export({ format: 'der', type: 'spki' }),
      KeySpec: key.metadata.KeySpec,
      ...meta,
    }
  })
  return fake
}
