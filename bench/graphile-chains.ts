import { randomBytes } from 'node:crypto'
import { Logger, run, type Runner, type Task } from 'graphile-worker'
import pg from 'pg'
import { percentiles, type Percentiles } from './percentiles.js'

/** graphile-worker on the same PostgreSQL: chains of jobs, each step a durable job that enqueues the next. */
export interface ChainsResult {
  peer: string
  chains: number
  stepsPerChain: number
  concurrency: number
  seconds: number
  stepsPerSecond: number
}

export interface ChainLatencyResult {
  peer: string
  chains: number
  stepsPerChain: number
  /** From adding a chain's first job to its last step's handler returning, ms. */
  ms: Percentiles & { min: number }
}

export const PEER = 'graphile-worker 0.17.3'

const silent = new Logger(() => () => undefined)

interface Step {
  chain: number
  step: number
}

/**
 * Runs graphile-worker in a fresh schema (dropped at the end) with a task that, until the last
 * step, adds the chain's next job: each step is a job committed to PostgreSQL, taken, run and
 * completed, as each of keyrotor's phases is a journaled, committed step.
 */
async function withGraphile<T>(
  databaseUrl: string,
  concurrency: number,
  stepsPerChain: number,
  onLastStep: (chain: number) => void,
  body: (runner: Runner) => Promise<T>,
): Promise<T> {
  const schema = `gw_bench_${randomBytes(6).toString('hex')}`
  const chainStep: Task = async (payload, helpers) => {
    const { chain, step } = payload as Step
    if (step < stepsPerChain) await helpers.addJob('chain_step', { chain, step: step + 1 })
    else onLastStep(chain)
  }
  const runner = await run({
    connectionString: databaseUrl,
    schema,
    concurrency,
    // graphile-worker sizes its own pool from the concurrency; it is woken by LISTEN/NOTIFY
    noHandleSignals: true,
    logger: silent,
    taskList: { chain_step: chainStep },
  })
  try {
    return await body(runner)
  } finally {
    await runner.stop()
    const client = new pg.Client({ connectionString: databaseUrl })
    await client.connect()
    await client.query(`DROP SCHEMA ${schema} CASCADE`).finally(() => client.end())
  }
}

/** `chains` chains started at once; the window runs from the first add to the last step's end. */
export async function benchmarkGraphileChains(options: {
  databaseUrl: string
  chains: number
  stepsPerChain: number
  concurrency: number
}): Promise<ChainsResult> {
  const { chains, stepsPerChain, concurrency } = options
  let done = 0
  let allDone: () => void = () => undefined
  const finished = new Promise<void>((resolve) => (allDone = resolve))
  return withGraphile(
    options.databaseUrl,
    concurrency,
    stepsPerChain,
    () => {
      if (++done === chains) allDone()
    },
    async (runner) => {
      const started = performance.now()
      // the first steps go in as fast as one connection adds them, as keyrotor's requests do
      for (let chain = 0; chain < chains; chain++) await runner.addJob('chain_step', { chain, step: 1 })
      await finished
      const seconds = (performance.now() - started) / 1000
      return {
        peer: PEER,
        chains,
        stepsPerChain,
        concurrency,
        seconds: Math.round(seconds * 100) / 100,
        stepsPerSecond: Math.round((chains * stepsPerChain) / seconds),
      }
    },
  )
}

/** One chain at a time on a worker of concurrency 1: the latency of a chain with nothing else running. */
export async function graphileChainLatency(options: {
  databaseUrl: string
  chains: number
  stepsPerChain: number
}): Promise<ChainLatencyResult> {
  let lastStep: (() => void) | undefined
  return withGraphile(
    options.databaseUrl,
    1,
    options.stepsPerChain,
    () => lastStep?.(),
    async (runner) => {
      const ms: number[] = []
      for (let chain = 0; chain < options.chains + WARM_UP; chain++) {
        const finished = new Promise<void>((resolve) => (lastStep = resolve))
        const started = performance.now()
        await runner.addJob('chain_step', { chain, step: 1 })
        await finished
        if (chain >= WARM_UP) ms.push(performance.now() - started)
      }
      return {
        peer: PEER,
        chains: options.chains,
        stepsPerChain: options.stepsPerChain,
        ms: latencyFigures(ms),
      }
    },
  )
}

/** Runs not counted while the JIT and the connections warm up. */
export const WARM_UP = 5

export function latencyFigures(ms: number[]): Percentiles & { min: number } {
  const round = (v: number) => Math.round(v * 100) / 100
  const p = percentiles(ms)
  return { min: round(Math.min(...ms)), p50: round(p.p50), p99: round(p.p99), count: p.count }
}
