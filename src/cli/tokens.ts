import type { Command } from 'commander'
import { Option } from 'commander'
import { seg } from './http-client.js'
import { table } from './output.js'
import { leaf, str } from './session.js'
import type { Act } from './session.js'

export const ROLES = ['viewer', 'operator', 'security', 'admin', 'consumer'] as const

interface TokenSummary {
  id: string
  user: string
  role: string
  key?: string | null
  createdAt?: string
  revokedAt?: string | null
}

export function registerTokens(program: Command, act: Act): void {
  const tokens = program.command('tokens').description('API tokens for people and dependent services')

  leaf(tokens, 'create', 'create a token (shown once)')
    .requiredOption('--user <user>', 'who the token is for')
    .addOption(new Option('--role <role>', 'what it may do').choices(ROLES).makeOptionMandatory())
    .option('--key <key>', 'for role consumer: the one key it is bound to')
    .action(
      act(async ({ api, out, opts }) => {
        const body = { user: str(opts, 'user'), role: str(opts, 'role'), key: str(opts, 'key') }
        const { body: created } = await api().post<{ token: string; id: string }>('/v1/tokens', body)
        out.emit({ token: created.token, id: created.id }, () => [
          `token ${created.id} for ${body.user} (${body.role}):`,
          created.token,
          'store it now: it is shown only once and cannot be retrieved later.',
        ])
      }),
    )

  leaf(tokens, 'list', 'list tokens (never their secrets)').action(
    act(async ({ api, out }) => {
      const list = await api().get<TokenSummary[]>('/v1/tokens')
      out.emit(list, () =>
        list.length === 0
          ? ['no tokens']
          : table(
              ['ID', 'USER', 'ROLE', 'KEY', 'CREATED', 'REVOKED'],
              list.map((t) => [t.id, t.user, t.role, t.key, t.createdAt, t.revokedAt]),
            ),
      )
    }),
  )

  leaf(tokens, 'revoke <id>', 'revoke a token').action(
    act(async ({ api, out }, [id]) => {
      const { body } = await api().post<{ id: string; revokedAt: string }>(
        `/v1/tokens/${seg(id ?? '')}/revoke`,
      )
      out.emit(body, () => `token ${body.id} revoked at ${body.revokedAt}`)
    }),
  )
}
