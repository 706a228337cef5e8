import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync } from 'fastify'
import { KeyrotorError } from '../../errors.js'

/**
 * The console's own policy, set on its page: scripts, styles and requests only from this server,
 * no inline script or style, no framing, no plugins, no form posts anywhere.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const HASHED_ASSET = /^[A-Za-z0-9_-]+-[A-Z0-9]{8}\.(js|css)$/
const A_YEAR_MS = 365 * 24 * 3600 * 1000

/** dist/console of this package, from src/http/routes (tsx, tests) or dist/src/http/routes (built). */
export function defaultConsoleRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) break
    dir = parent
  }
  return join(dir, 'dist', 'console')
}

/**
 * The operator console: `GET /` serves its page (never cached, with CONSOLE_CSP), `/assets/*` its
 * content-hashed bundle (cached for a year: a new build has new names). Everything else it does
 * goes through the public API with the user's token.
 */
export function consoleRoutes(options: { root?: string } = {}): FastifyPluginAsync {
  const root = options.root ?? defaultConsoleRoot()
  const assets = join(root, 'assets')
  return async (app) => {
    // only reply.sendFile: the routes are ours, so each declares its (public) action
    await app.register(fastifyStatic, { root, serve: false })
    const config = { action: 'public' } as const
    const hide = { hide: true }

    app.get('/', { config, schema: hide }, async (_request, reply) => {
      if (!existsSync(join(root, 'index.html'))) {
        throw new KeyrotorError(
          'NOT_FOUND',
          `the console is not built (no ${root}/index.html): run npm run build`,
        )
      }
      void reply
        .header('Content-Security-Policy', CONSOLE_CSP)
        .header('Cache-Control', 'no-cache')
        .header('X-Content-Type-Options', 'nosniff')
        .header('Referrer-Policy', 'no-referrer')
      return reply.sendFile('index.html', root, { cacheControl: false })
    })

    app.get<{ Params: { file: string } }>(
      '/assets/:file',
      { config, schema: hide },
      async (request, reply) => {
        if (!HASHED_ASSET.test(request.params.file)) {
          throw new KeyrotorError('NOT_FOUND', `no console asset ${request.params.file}`)
        }
        void reply.header('X-Content-Type-Options', 'nosniff')
        return reply.sendFile(request.params.file, assets, { maxAge: A_YEAR_MS, immutable: true })
      },
    )
  }
}
