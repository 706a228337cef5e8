import type { Command } from 'commander'
import { InvalidArgumentError, Option } from 'commander'
import { isDuration } from '../domain/duration.js'
import { ROLES, type Role } from '../domain/roles.js'
import { listCommand } from './list-pages.js'
import { leaf, str } from './session.js'
import type { Act } from './session.js'

export { ROLES }

export function registerTokens(program: Command, act: Act): void {
  const tokens = program.command('tokens').description('API tokens for people and dependent services')

  leaf(tokens, 'create', 'create a token (shown once)')
    .requiredOption('--user <user>', 'who the token is for')
    .addOption(new Option('--role <role>', 'what it may do').choices(ROLES).makeOptionMandatory())
    .option('--key <key>', 'for role consumer: the one key it is bound to')
    .addOption(
      // validated here so a typo is a usage error (exit 2) before any request; the server counts
      // the lifetime from its own clock, so the text itself is what is sent
      new Option('--expires-in <duration>', 'lifetime, e.g. 12h or 30d (default: no expiry)').argParser(
        (value: string) => {
          if (!isDuration(value))
            throw new InvalidArgumentError(`"${value}" is not a duration (e.g. 12h, 30d)`)
          return value
        },
      ),
    )
    .action(
      act(async ({ api, out, opts }) => {
        const body = {
          // both mandatory options; commander keeps --role to ROLES
          user: String(opts.user),
          role: String(opts.role) as Role,
          key: str(opts, 'key'),
          expiresIn: str(opts, 'expiresIn'),
        }
        const { body: created } = await api().call('createToken', { body })
        out.emit({ token: created.token, id: created.id, expiresAt: created.expiresAt }, () => [
          `token ${created.id} for ${body.user} (${body.role}), ${created.expiresAt === null ? 'no expiry' : `expires ${created.expiresAt}`}:`,
          created.token,
          'store it now: it is shown only once and cannot be retrieved later.',
        ])
      }),
    )

  listCommand(tokens, act, {
    operation: 'listTokens',
    description: 'list tokens, oldest first (never their secrets)',
    filters: [
      { name: 'user', help: 'only tokens of this user' },
      { name: 'role', help: 'only tokens of this role' },
      { name: 'key', help: 'only consumer tokens bound to this key' },
    ],
    empty: 'no tokens',
    columns: ['ID', 'USER', 'ROLE', 'KEY', 'CREATED', 'EXPIRES', 'REVOKED', 'LAST USED'],
    row: (t) => [
      t.id,
      t.user,
      t.role,
      t.key,
      t.createdAt,
      t.expiresAt,
      t.revokedAt,
      // kept at most once a minute by the server: a review aid, not an access log
      t.lastUsedAt ?? 'never',
    ],
  })

  leaf(tokens, 'revoke <id>', 'revoke a token').action(
    act(async ({ api, out }, [id]) => {
      const { body } = await api().call('revokeToken', { params: { id: id ?? '' } })
      out.emit(body, () => `token ${body.id} revoked at ${body.revokedAt}`)
    }),
  )
}
