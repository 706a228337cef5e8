import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'

const script = resolve('scripts/check-layers.mjs')
const trees: string[] = []

/** A throwaway root with src/ files (path → text) to run the script on. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'layers-'))
  trees.push(root)
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

function check(root: string) {
  const result = spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' })
  return { status: result.status, stderr: result.stderr }
}

afterEach(() => {
  for (const root of trees.splice(0)) rmSync(root, { recursive: true, force: true })
})

describe('scripts/check-layers.mjs', () => {
  it('passes on this repository', () => {
    expect(check(resolve('.'))).toEqual({ status: 0, stderr: '' })
  })

  it('passes on imports that point down or stay in their layer', () => {
    const root = tree({
      'src/domain/runs.ts': 'export const x = 1\n',
      'src/store/runs-repository.ts': "import { x } from '../domain/runs.js'\nexport const y = x\n",
      'src/engine/worker.ts': "import { y } from '../store/runs-repository.js'\nexport const z = y\n",
      'src/audit/log.ts': "import type { P } from '../providers/p.js'\nexport type L = P\n",
      'src/providers/p.ts': 'export type P = 1\n',
    })
    expect(check(root).status).toBe(0)
  })

  it('fails on a back-import, naming the file, the import and the layers', () => {
    const root = tree({
      'src/engine/run.ts': 'export const run = 1\n',
      'src/observability/timeline.ts': "import { run } from '../engine/run.js'\nexport const t = run\n",
    })
    const { status, stderr } = check(root)
    expect(status).toBe(1)
    expect(stderr).toContain(
      "src/observability/timeline.ts: back-import of '../engine/run.js' (observability is below engine in the layers)",
    )
  })

  it('fails on a type-only back-import', () => {
    const root = tree({
      'src/governance/roles.ts': "export type Role = 'admin'\n",
      'src/engine/service.ts': "import type { Role } from '../governance/roles.js'\nexport type R = Role\n",
    })
    expect(check(root).stderr).toContain('src/engine/service.ts: back-import')
  })

  it('fails on a cycle between files of one folder', () => {
    const root = tree({
      'src/observability/a.ts': "import type { B } from './b.js'\nexport type A = B | 1\n",
      'src/observability/b.ts': "import type { A } from './a.js'\nexport type B = A | 2\n",
    })
    const { status, stderr } = check(root)
    expect(status).toBe(1)
    expect(stderr).toContain('import cycle between src/observability/a.ts, src/observability/b.ts')
  })

  it('fails on a folder that is in no layer and on an import that names no file', () => {
    const root = tree({ 'src/misc/x.ts': "import { y } from './missing.js'\nexport const x = y\n" })
    const { status, stderr } = check(root)
    expect(status).toBe(1)
    expect(stderr).toContain('src/misc is in no layer')
    expect(stderr).toContain("src/misc/x.ts: import './missing.js' names no file")
  })
})
