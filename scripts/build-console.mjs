// Bundles the operator console (console/) into dist/console: content-hashed assets under
// assets/, and an index.html naming them. Run by `npm run build` (so `npm ci`'s prepare builds it).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { build } from 'esbuild'

const out = 'dist/console'
rmSync(out, { recursive: true, force: true })
mkdirSync(join(out, 'assets'), { recursive: true })

const result = await build({
  entryPoints: { app: 'console/main.tsx' },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  minify: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: join(out, 'assets'),
  entryNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
})

const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path))
const script = outputs.find((name) => name.endsWith('.js'))
const style = outputs.find((name) => name.endsWith('.css'))
if (script === undefined || style === undefined)
  throw new Error(`the console bundle is incomplete: ${outputs.join(', ')}`)

const page = readFileSync('console/index.html', 'utf8')
  .replace('{{script}}', `/assets/${script}`)
  .replace('{{style}}', `/assets/${style}`)
writeFileSync(join(out, 'index.html'), page)
console.log(`console: dist/console/index.html, assets/${script}, assets/${style}`)
