import { randomBytes, verify } from 'node:crypto'
import {
  DecryptCommand,
  EncryptCommand,
  GenerateMacCommand,
  GetPublicKeyCommand,
  SignCommand,
  VerifyMacCommand,
  type KMSClient,
} from '@aws-sdk/client-kms'
import { kidOf } from '../../domain/algorithms.js'
import type { Jwk, ProviderKeyRef, SelfTestResult } from '../key-provider.js'
import type { KmsCall } from './kms-retry.js'
import { jwkFromSpki, KMS_ALGORITHMS } from './kms-specs.js'

/** The client and the retrying caller every KMS request goes through. */
export interface Kms {
  client: KMSClient
  call: KmsCall
}

/** Encrypt/decrypt, MAC/verify, or sign in KMS and verify with the published public key. */
export async function selfTestInKms(
  kms: Kms,
  key: ProviderKeyRef,
  version: number,
  KeyId: string,
): Promise<SelfTestResult> {
  const { client, call } = kms
  const kid = kidOf(key.keyId, version)
  const message = randomBytes(32)
  const spec = KMS_ALGORITHMS[key.algorithm]
  if (key.algorithm === 'aes-256-gcm') {
    const context = { keyrotor: kid }
    const sealed = await call(`self-test ${kid}`, () =>
      client.send(new EncryptCommand({ KeyId, Plaintext: message, EncryptionContext: context })),
    )
    const opened = await call(`self-test ${kid}`, () =>
      client.send(
        new DecryptCommand({ KeyId, CiphertextBlob: sealed.CiphertextBlob, EncryptionContext: context }),
      ),
    )
    const passed = Buffer.from(opened.Plaintext ?? new Uint8Array()).equals(message)
    return { passed, detail: `encrypt/decrypt in KMS ${passed ? 'round-trips' : 'does not round-trip'}` }
  }
  if (key.algorithm === 'hmac-sha256') {
    const mac = await call(`self-test ${kid}`, () =>
      client.send(new GenerateMacCommand({ KeyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' })),
    )
    const checked = await call(`self-test ${kid}`, () =>
      client.send(
        new VerifyMacCommand({ KeyId, Message: message, Mac: mac.Mac, MacAlgorithm: 'HMAC_SHA_256' }),
      ),
    )
    const passed = checked.MacValid === true
    return { passed, detail: `GenerateMac/VerifyMac HMAC_SHA_256 in KMS ${passed ? 'agree' : 'disagree'}` }
  }
  const jwk = await publicJwkOf(kms, key, version, KeyId)
  const signed = await call(`self-test ${kid}`, () =>
    client.send(
      new SignCommand({ KeyId, Message: message, MessageType: 'RAW', SigningAlgorithm: spec.signing }),
    ),
  )
  const signature = Buffer.from(signed.Signature ?? new Uint8Array())
  const publicKey = { key: jwk, format: 'jwk' as const }
  const passed = verify(key.algorithm === 'ed25519' ? null : 'sha256', message, publicKey, signature)
  return {
    passed,
    detail: passed
      ? `sign ${spec.signing} in KMS, verify with the published key`
      : `a ${spec.signing} signature from KMS does not verify with the published key`,
  }
}

/** The public JWK of an enabled asymmetric KMS key (KMS answers GetPublicKey for no other). */
export async function publicJwkOf(
  kms: Kms,
  key: ProviderKeyRef,
  version: number,
  KeyId: string,
): Promise<Jwk> {
  const { client, call } = kms
  const out = await call(`read public key of ${kidOf(key.keyId, version)}`, () =>
    client.send(new GetPublicKeyCommand({ KeyId })),
  )
  return jwkFromSpki(out.PublicKey as Uint8Array, key, version)
}
