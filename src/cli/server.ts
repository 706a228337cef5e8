import type { Command } from 'commander'
import { KeyrotorError } from '../errors.js'
import { durationOption, integerOption, leaf, str } from './session.js'
import type { Act } from './session.js'

const DEFAULT_PORT = 8420
const DEFAULT_HOST = '127.0.0.1'

/** init, server and demo run in this process: they load src/main.ts on demand. */
export function registerServer(program: Command, act: Act): void {
  leaf(program, 'init', 'create the store and master key; print the admin token once')
    .requiredOption('--data-dir <dir>', 'where the SQLite store and master key live')
    .option('--database <url>', 'postgres://… to create the schema in PostgreSQL instead of SQLite')
    .action(
      act(async ({ ctx, out, opts }) => {
        const app = await ctx.importApp()
        const { adminToken } = await app.runInit({
          dataDir: String(opts.dataDir),
          databaseUrl: str(opts, 'database'),
          masterKey: ctx.env.masterKey,
        })
        out.emit({ adminToken }, () => [
          'keyrotor initialised. Admin token:',
          adminToken,
          'It is shown only once: store it now (e.g. in your secret manager).',
        ])
      }),
    )

  leaf(program, 'server', 'run the API, the scheduler and the workers')
    .requiredOption('--data-dir <dir>', 'the data directory made by init')
    .option('--config <file>', 'keyrotor.yaml')
    .addOption(integerOption('--port <n>', 'port to listen on', 0, 65535).default(DEFAULT_PORT))
    .option('--host <host>', 'address to listen on', DEFAULT_HOST)
    .option('--database <url>', 'postgres://… selects PostgreSQL, otherwise SQLite in the data dir')
    .option('--log-file <file>', 'write JSON logs here instead of stdout')
    .addOption(
      durationOption(
        '--lease-ttl <duration>',
        'how long a worker holds a run without a heartbeat (default 30s)',
      ),
    )
    .addOption(
      integerOption(
        '--scheduler-concurrency <n>',
        'scheduled rotations running at once (default 4)',
        1,
        10_000,
      ),
    )
    .option('--audit-checkpoint-url <url>', 'also POST signed audit checkpoints to this webhook')
    .option('--runbooks-dir <dir>', 'runbooks counted by keyrotor_runbooks_overdue (default: docs/runbooks)')
    .addOption(
      durationOption(
        '--runbook-review-period <duration>',
        'a runbook is overdue after this long (default 90d)',
      ),
    )
    .option('--tls-cert <file>', 'PEM certificate (chain): serve HTTPS; needs --tls-key')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--metrics-token-env <var>', 'GET /metrics then requires Authorization: Bearer $VAR')
    .action(
      act(async ({ ctx, opts }) => {
        const app = await ctx.importApp()
        await app.runServer({
          dataDir: String(opts.dataDir),
          configPath: str(opts, 'config'),
          port: opts.port as number,
          host: String(opts.host),
          databaseUrl: str(opts, 'database'),
          logFile: str(opts, 'logFile'),
          masterKey: ctx.env.masterKey,
          logLevel: ctx.env.logLevel,
          secretOf: ctx.secretOf,
          ...(typeof opts.leaseTtl === 'number' ? { leaseMs: opts.leaseTtl } : {}),
          ...(typeof opts.schedulerConcurrency === 'number'
            ? { schedulerConcurrency: opts.schedulerConcurrency }
            : {}),
          auditCheckpointUrl: str(opts, 'auditCheckpointUrl'),
          runbooksDir: str(opts, 'runbooksDir'),
          ...(typeof opts.runbookReviewPeriod === 'number'
            ? { runbookReviewPeriodMs: opts.runbookReviewPeriod }
            : {}),
          tlsCertFile: str(opts, 'tlsCert'),
          tlsKeyFile: str(opts, 'tlsKey'),
          metricsToken: metricsToken(ctx.secretOf, str(opts, 'metricsTokenEnv')),
        })
      }),
    )

  leaf(program, 'demo', 'throwaway data dir, demo keys, one rotation end to end, then keep serving')
    .addOption(integerOption('--port <n>', 'port to listen on', 0, 65535).default(DEFAULT_PORT))
    .action(
      act(async ({ ctx, out, opts }) => {
        const app = await ctx.importApp()
        await app.runDemo({ port: opts.port as number, json: out.json })
      }),
    )

  leaf(program, 'agent', 'make any service a dependent: answer probes and notices, hand it versions as files')
    .requiredOption('--config <file>', 'agent.yaml (see docs/agent.md)')
    .option('--log-file <file>', 'write JSON logs here instead of stdout')
    .action(
      act(async ({ ctx, opts }) => {
        const app = await ctx.importApp()
        await app.runAgent({
          configPath: String(opts.config),
          logFile: str(opts, 'logFile'),
          logLevel: ctx.env.logLevel,
          secretOf: ctx.secretOf,
        })
      }),
    )
}

/** The metrics token from the variable `--metrics-token-env` names; a name without a value is bad usage. */
function metricsToken(
  secretOf: (name: string) => string | undefined,
  name: string | undefined,
): string | undefined {
  if (name === undefined) return undefined
  const value = secretOf(name)
  if (value === undefined || value.length < 16) {
    throw new KeyrotorError(
      'BAD_REQUEST',
      `--metrics-token-env: $${name} must hold a token of at least 16 characters`,
    )
  }
  return value
}
