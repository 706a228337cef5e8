import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ExecSettings } from '../../src/config/provider-settings.js'

/** The test hook (node stdlib): its backend is a directory of JSON files. */
export const FILE_HOOK = fileURLToPath(new URL('./fixtures/file-hook.mjs', import.meta.url))

export type HookFault = 'hang' | 'tempfail' | 'crash' | 'garbage' | 'wrong-shape' | 'huge'

/** One file-backed exec backend: its state directory, settings and fault switch. */
export interface FileHookBackend {
  dir: string
  settings: ExecSettings
  /** The `providers:` entry of keyrotor.yaml for this backend. */
  yaml(name: string): string
  /** The hook misbehaves on `operation` (`times` calls, or until cleared). */
  fault(operation: string, mode: HookFault, times?: number): void
  clearFault(): void
  dispose(): void
}

export function createFileHookBackend(options: { sealed?: boolean; timeout?: string } = {}): FileHookBackend {
  const dir = mkdtempSync(join(tmpdir(), 'keyrotor-hook-'))
  const command = [
    process.execPath,
    FILE_HOOK,
    '--state',
    dir,
    ...(options.sealed === true ? ['--sealed'] : []),
  ]
  const timeout = options.timeout ?? '20s'
  return {
    dir,
    settings: { type: 'exec', command, timeout },
    yaml: (name) => `  ${name}: { type: exec, command: ${JSON.stringify(command)}, timeout: ${timeout} }`,
    fault(operation, mode, times) {
      writeFileSync(join(dir, 'fault.json'), JSON.stringify({ operation, mode, times }))
    },
    clearFault: () => rmSync(join(dir, 'fault.json'), { force: true }),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  }
}
