import { ALGORITHMS } from '../../src/domain/algorithms.js'
import { createAwsKmsProvider } from '../../src/providers/aws-kms/aws-kms-provider.js'
import { createKmsFake } from '../fakes/kms-fake.js'
import { runProviderConformance } from './conformance.js'

// No AWS endpoint is reachable here: the SDK's client runs with its commands answered by the
// in-memory KMS of test/fakes/kms-fake.ts, and the server is handed that provider.
runProviderConformance(
  'aws-kms (stubbed SDK client)',
  async () => {
    const kms = createKmsFake()
    const provider = createAwsKmsProvider(
      { type: 'aws-kms', region: 'eu-west-1' },
      { client: kms.client, retry: { sleep: async () => undefined } },
    )
    return {
      provider,
      exportable: false,
      algorithms: ALGORITHMS,
      instanceYaml: (name) => `  ${name}: { type: aws-kms, region: eu-west-1 }`,
      inject: true,
      // someone at the AWS console: the version's KMS key disabled, or gone with its alias
      async tamper(_db, key, version, change) {
        const alias = `alias/keyrotor/${key.keyId}/v${version}`
        const kmsKeyId = kms.aliases.get(alias) as string
        if (change === 'lost') {
          kms.aliases.delete(alias)
          kms.keys.delete(kmsKeyId)
          return
        }
        const metadata = kms.keys.get(kmsKeyId)?.metadata
        if (metadata !== undefined) Object.assign(metadata, { KeyState: 'Disabled', Enabled: false })
      },
    }
  },
  { usesStore: false },
)
