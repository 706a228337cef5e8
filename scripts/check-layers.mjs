#!/usr/bin/env node
// Fails (exit 1) on an import that runs back up the layers of src/ and on any cycle between files.
// The layers are those of docs/architecture.md ("Layers point down"): a file may import its own
// folder, a folder of its own layer, or a lower layer. Type-only imports count too: a type cycle
// is still a cycle a reader has to untangle. Tests (*.test.ts) are left out; they sit on top.
//
//   node scripts/check-layers.mjs [--root DIR]   (DIR holds src/; default: the working directory)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import ts from 'typescript'

/** Lowest first. A top-level file (main.ts) is named with its extension. */
export const LAYERS = [
  ['domain', 'errors.ts'],
  ['store', 'config'],
  ['observability', 'audit', 'providers', 'dependents', 'dependent-sdk'],
  ['engine'],
  ['governance'],
  ['config-changes'],
  ['http', 'agent', 'client'],
  // the entry points and the composition root: the CLI starts a server in process
  ['app', 'demo', 'drills', 'cli', 'main.ts', 'index.ts'],
]

const rankOf = new Map(LAYERS.flatMap((names, rank) => names.map((name) => [name, rank])))

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.tsx?$/.test(entry) && !/\.test\.tsx?$/.test(entry) && !entry.endsWith('.d.ts') ? [path] : []
  })
}

/** The .ts file a relative specifier ('./x.js', '../dir') names, or null when there is none. */
function resolveImport(from, specifier) {
  const base = resolve(dirname(from), specifier)
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.js$/, '.tsx'),
    base,
    join(base, 'index.ts'),
  ]
  return candidates.find((path) => existsSync(path) && statSync(path).isFile()) ?? null
}

function folderOf(srcDir, file) {
  return relative(srcDir, file).split(sep)[0]
}

function importsOf(file) {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
  return info.importedFiles.map((imported) => imported.fileName).filter((name) => name.startsWith('.'))
}

/** Strongly connected components of more than one file, or a file importing itself (Tarjan). */
function cycles(graph) {
  let counter = 0
  const index = new Map()
  const low = new Map()
  const stack = []
  const onStack = new Set()
  const found = []
  function visit(node) {
    index.set(node, counter)
    low.set(node, counter)
    counter += 1
    stack.push(node)
    onStack.add(node)
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next)
        low.set(node, Math.min(low.get(node), low.get(next)))
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node), index.get(next)))
      }
    }
    if (low.get(node) !== index.get(node)) return
    const component = []
    let member
    do {
      member = stack.pop()
      onStack.delete(member)
      component.push(member)
    } while (member !== node)
    if (component.length > 1 || (graph.get(node) ?? new Set()).has(node)) found.push(component.sort())
  }
  for (const node of graph.keys()) if (!index.has(node)) visit(node)
  return found
}

/** The problems of the tree under root/src, one line each; empty when the layers hold. */
export function checkLayers(root) {
  const srcDir = join(root, 'src')
  const problems = []
  const graph = new Map()
  const name = (file) => relative(root, file).split(sep).join('/')
  for (const file of sourceFiles(srcDir)) {
    const folder = folderOf(srcDir, file)
    const rank = rankOf.get(folder)
    if (rank === undefined) {
      problems.push(
        `${name(file)}: src/${folder} is in no layer (add it to LAYERS in scripts/check-layers.mjs)`,
      )
    }
    const targets = new Set()
    for (const specifier of importsOf(file)) {
      const target = resolveImport(file, specifier)
      if (target === null) {
        problems.push(`${name(file)}: import '${specifier}' names no file`)
        continue
      }
      targets.add(name(target))
      const targetFolder = folderOf(srcDir, target)
      const targetRank = rankOf.get(targetFolder)
      if (rank !== undefined && targetRank !== undefined && targetRank > rank) {
        problems.push(
          `${name(file)}: back-import of '${specifier}' (${folder} is below ${targetFolder} in the layers)`,
        )
      }
    }
    graph.set(name(file), targets)
  }
  for (const component of cycles(graph)) problems.push(`import cycle between ${component.join(', ')}`)
  return problems
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rootAt = process.argv.indexOf('--root')
  const root = resolve(rootAt === -1 ? '.' : (process.argv[rootAt + 1] ?? '.'))
  const problems = checkLayers(root)
  for (const problem of problems) console.error(problem)
  if (problems.length > 0) {
    console.error(`check-layers: ${problems.length} problem(s); the layers are in docs/architecture.md`)
    process.exit(1)
  }
  console.log('check-layers: no back-import, no cycle')
}
