// Makes the compiled CLI executable, so `npx keyrotor` and the package's bin work after `npm ci`.
import { chmodSync, existsSync } from 'node:fs'

const cli = 'dist/src/cli/main.js'
if (!existsSync(cli)) throw new Error(`${cli} was not built`)
chmodSync(cli, 0o755)
