import type { Command } from 'commander'
import type { KeyView } from './api-types.js'
import { cell, table } from './output.js'
import { listPages, withPaging } from './list-pages.js'
import { leaf, str } from './session.js'
import type { Act } from './session.js'

export function registerKeys(program: Command, act: Act): void {
  const keys = program.command('keys').description('managed keys, their versions, aliases and dependents')

  withPaging(leaf(keys, 'list', 'list the managed keys in id order (all unless --limit)'), { time: false })
    .option('--search <text>', 'only keys whose id or owner contains this (case-insensitive)')
    .action(
      act(async (session) => {
        const list = await listPages(session, 'listKeys', { q: str(session.opts, 'search') })
        session.out.emit(list, () => keyTable(list))
      }),
    )

  leaf(keys, 'show <key>', 'show one key: versions, aliases, dependents and their last answers').action(
    act(async ({ api, out }, [id]) => {
      const key = (await api().call('getKey', { params: { key: id ?? '' } })).body
      out.emit(key, () => renderKey(key))
    }),
  )
}

function activeVersion(key: KeyView): number | undefined {
  return key.versions.find((version) => version.state === 'active')?.version
}

function keyTable(list: readonly KeyView[]): string[] {
  if (list.length === 0) return ['no keys']
  return table(
    ['ID', 'ALGORITHM', 'PROVIDER', 'ACTIVE', 'ALIASES'],
    list.map((key) => [
      key.id,
      key.algorithm,
      key.provider,
      activeVersion(key),
      key.aliases.map((a) => a.name),
    ]),
  )
}

export function renderKey(key: KeyView): string[] {
  const active = activeVersion(key)
  const lines = [
    `key ${key.id}  ${key.algorithm} on ${key.provider}, owner ${key.owner}, active v${active ?? '-'}`,
    `policy: ${Object.entries(key.policy)
      .map(([name, value]) => `${name}=${cell(value)}`)
      .join(' ')}`,
    '',
    'versions:',
    ...table(
      ['VERSION', 'STATE', 'COMPROMISED', 'CREATED', 'PROVIDER REF'],
      key.versions.map((v) => [v.version, v.state, v.compromised ? 'yes' : 'no', v.createdAt, v.providerRef]),
    ).map((line) => `  ${line}`),
    '',
    'aliases:',
    ...(key.aliases.length === 0
      ? ['  -']
      : key.aliases.map((alias) => `  ${alias.name} → v${cell(alias.version)}`)),
    '',
    'dependents:',
  ]
  if (key.dependents.length === 0) return [...lines, '  -']
  const rows = key.dependents.map((d) => [
    d.name,
    d.critical ? 'yes' : 'no',
    d.accepts,
    d.active,
    d.lastProbeAt,
    d.lastNotice === undefined || d.lastNotice === null ? null : `${d.lastNotice} @ ${cell(d.lastNoticeAt)}`,
    d.lastError,
  ])
  const headers = ['NAME', 'CRITICAL', 'ACCEPTS', 'ACTIVE', 'LAST PROBE', 'LAST NOTICE', 'LAST ERROR']
  return [...lines, ...table(headers, rows).map((line) => `  ${line}`)]
}
