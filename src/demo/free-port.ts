import { randomInt } from 'node:crypto'
import { createServer } from 'node:net'

// Below Linux's ephemeral range (32768–60999 by default): outgoing connections take their local
// ports from that range, so a port chosen here cannot be taken by one before it is listened on.
const LOW = 20_000
const HIGH = 32_000

/**
 * A port that was free a moment ago on 127.0.0.1, for a service whose address must be known before
 * it starts (it goes into keyrotor.yaml). Random, so that parallel tests rarely pick the same one.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = randomInt(LOW, HIGH)
    if (await isFree(port)) return port
  }
  throw new Error(`no free port found between ${LOW} and ${HIGH}`)
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}
