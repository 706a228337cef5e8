import type { KeyMetadata } from '@aws-sdk/client-kms'
import { kidOf } from '../../domain/algorithms.js'
import type { ProviderVersionState } from '../../domain/lifecycle.js'
import { KeyrotorError } from '../../errors.js'
import type { ProviderKeyRef, ProviderVersion } from '../key-provider.js'
import { algorithmOfKeySpec, versionAlias } from './kms-specs.js'

/** KMS key states as version states; PendingDeletion is as destroyed as KMS gets. */
export const STATES: Partial<Record<string, ProviderVersionState>> = {
  Enabled: 'enabled',
  Disabled: 'disabled',
  PendingDeletion: 'destroyed',
  PendingReplicaDeletion: 'destroyed',
}

/** A KMS key as the version keyrotor knows; a key in a passing state (Creating, Updating) is transient. */
export function toVersion(key: ProviderKeyRef, version: number, meta: KeyMetadata): ProviderVersion {
  const state = STATES[meta.KeyState ?? '']
  if (state === undefined) {
    throw new KeyrotorError(
      'PROVIDER_TRANSIENT',
      `KMS key of ${kidOf(key.keyId, version)} is ${meta.KeyState}`,
      {
        retryable: true,
      },
    )
  }
  return {
    keyId: key.keyId,
    version,
    state,
    providerRef: meta.Arn ?? meta.KeyId ?? versionAlias(key.keyId, version),
    createdAt: (meta.CreationDate ?? new Date(0)).toISOString(),
  }
}

/** A retried create must find the same kind of key: another key spec means two configs disagree. */
export function checked(key: ProviderKeyRef, version: number, meta: KeyMetadata): ProviderVersion {
  const algorithm = algorithmOfKeySpec(meta.KeySpec)
  if (algorithm !== key.algorithm) {
    throw new KeyrotorError(
      'CONFLICT',
      `version ${kidOf(key.keyId, version)} exists with algorithm ${algorithm ?? meta.KeySpec}, not ${key.algorithm}`,
    )
  }
  return toVersion(key, version, meta)
}
