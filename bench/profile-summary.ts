import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { summarise, type CpuProfile, type FrameTime } from './cpu-profile.js'

/**
 * `node dist/bench/profile-summary.js FILE.cpuprofile [--top N]`: where the time of a profile
 * went, as two tables: the frames with the most self time and with the most inclusive time.
 * Pair it with a bench's `--cpu-prof` switch (profiles land in bench-profiles/).
 */

function table(title: string, totalMs: number, rows: FrameTime[], key: 'selfMs' | 'inclusiveMs'): string {
  const lines = rows.map((row) => {
    const share = totalMs === 0 ? 0 : (100 * row[key]) / totalMs
    return `${row[key].toFixed(1).padStart(10)} ms ${share.toFixed(1).padStart(5)}%  ${row.frame}`
  })
  return [title, ...lines].join('\n')
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' } },
  })
  const file = positionals[0]
  if (file === undefined) {
    process.stderr.write('usage: profile-summary FILE.cpuprofile [--top N]\n')
    process.exitCode = 2
    return
  }
  const top = Number(values.top)
  const { totalMs, frames } = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile)
  const bySelf = [...frames].sort((a, b) => b.selfMs - a.selfMs).slice(0, top)
  const byInclusive = [...frames].sort((a, b) => b.inclusiveMs - a.inclusiveMs).slice(0, top)
  process.stdout.write(
    `${file}: ${totalMs.toFixed(1)} ms sampled\n\n` +
      `${table(`top ${top} by self time`, totalMs, bySelf, 'selfMs')}\n\n` +
      `${table(`top ${top} by inclusive time`, totalMs, byInclusive, 'inclusiveMs')}\n`,
  )
}

main()
