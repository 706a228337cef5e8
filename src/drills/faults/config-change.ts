import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort } from '../../demo/free-port.js'
import { SANDBOX_FILES } from '../sandbox-state.js'
import type { Fault } from './fault.js'

/**
 * The payments team's change file: the longer grace period they asked for, and, by a slip when
 * they copied it from staging, payments-api's probe on a port where nothing listens.
 */
export function configChange(): Fault {
  return {
    async inject(ctx) {
      const wrongPort = await freePort()
      const changed = ctx.configYaml
        .replace('gracePeriod: 1h', 'gracePeriod: 2h')
        .replace(`127.0.0.1:${ctx.dependentPort}/keyrotor/probe`, `127.0.0.1:${wrongPort}/keyrotor/probe`)
      const file = join(ctx.dir, SANDBOX_FILES.change)
      writeFileSync(file, changed)
      return { changeFile: file }
    },
  }
}
