import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ALGORITHMS, type Algorithm } from '../../src/domain/algorithms.js'
import { createExecProvider } from '../../src/providers/exec/exec-provider.js'
import { runProviderConformance } from './conformance.js'
import { createFileHookBackend } from './file-hook.js'
import type { SubjectFactory } from './subject.js'

/** The test hook as a backend: exportable like the local keystore, or sealed like an HSM. */
const fileHook =
  (sealed: boolean, algorithms: readonly Algorithm[] = ALGORITHMS): SubjectFactory =>
  async () => {
    const backend = createFileHookBackend({ sealed })
    return {
      provider: createExecProvider(backend.settings, { env: process.env }),
      exportable: !sealed,
      algorithms,
      instanceYaml: (name) => backend.yaml(name),
      async tamper(_db, key, version, change) {
        const file = join(backend.dir, 'keys', encodeURIComponent(key.keyId), `v${version}.json`)
        if (change === 'lost') return rmSync(file)
        const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
        writeFileSync(file, JSON.stringify({ ...stored, state: 'disabled' }))
      },
      close: async () => backend.dispose(),
    }
  }

// the hook keeps its backend in files: its own cases once, the engine's on both dialects
runProviderConformance('exec (file hook)', fileHook(false), { usesStore: false })
// the non-exportable path once: the store does not change what a sealed hook refuses
runProviderConformance('exec (sealed file hook)', fileHook(true, ['hmac-sha256', 'ec-p256', 'ed25519']), {
  dialects: ['sqlite'],
})
