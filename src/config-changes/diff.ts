/**
 * A unified line diff (`diff -u` style) of two config texts, for reviewers of a config change.
 * Config files are short (hundreds of lines), so a plain longest-common-subsequence table is
 * fast enough and easier to trust than a hand-rolled Myers. Config text carries only the names
 * of secrets' environment variables, so the diff never shows a secret.
 */

const CONTEXT = 3

type Op = { kind: ' ' | '-' | '+'; line: string; a: number; b: number }

function splitLines(text: string): string[] {
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return lines
}

function edits(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length
  const m = b.length
  // lcs[i][j]: length of the LCS of a[i..] and b[j..]
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1))
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i] as Uint32Array
    const below = lcs[i + 1] as Uint32Array
    for (let j = m - 1; j >= 0; j--) {
      row[j] =
        a[i] === b[j] ? (below[j + 1] as number) + 1 : Math.max(below[j] as number, row[j + 1] as number)
    }
  }
  const ops: Op[] = []
  let i = 0
  let j = 0
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: ' ', line: a[i] as string, a: i++, b: j++ })
    } else if (i < n && (j >= m || (lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0))) {
      // on a tie the deletion goes first: a changed line reads as `-old` then `+new`, as in diff -u
      ops.push({ kind: '-', line: a[i] as string, a: i++, b: j })
    } else {
      ops.push({ kind: '+', line: b[j] as string, a: i, b: j++ })
    }
  }
  return ops
}

/** `--- from` / `+++ to` and hunks; the empty string when the texts have the same lines. */
export function unifiedDiff(before: string, after: string, labels: { from: string; to: string }): string {
  const ops = edits(splitLines(before), splitLines(after))
  const changed = ops.flatMap((op, index) => (op.kind === ' ' ? [] : [index]))
  if (changed.length === 0) return ''
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`]
  let k = 0
  while (k < changed.length) {
    const start = Math.max(0, (changed[k] as number) - CONTEXT)
    let end = Math.min(ops.length, (changed[k] as number) + CONTEXT + 1)
    // hunks closer than twice the context merge into one
    while (k + 1 < changed.length && (changed[k + 1] as number) - CONTEXT <= end) {
      k++
      end = Math.min(ops.length, (changed[k] as number) + CONTEXT + 1)
    }
    k++
    const hunk = ops.slice(start, end)
    const first = hunk[0] as Op
    const aCount = hunk.filter((op) => op.kind !== '+').length
    const bCount = hunk.filter((op) => op.kind !== '-').length
    out.push(`@@ -${range(first.a, aCount)} +${range(first.b, bCount)} @@`)
    for (const op of hunk) out.push(`${op.kind}${op.line}`)
  }
  return `${out.join('\n')}\n`
}

function range(start: number, count: number): string {
  // diff -u numbers from 1, and an empty range names the line before it
  return `${count === 0 ? start : start + 1},${count}`
}
