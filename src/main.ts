import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { DestinationStream } from 'pino'
import { loadAgentConfig } from './agent/agent-config.js'
import { startAgent } from './agent/agent.js'
import { createAuditLog } from './audit/audit-log.js'
import { deriveAuditKey } from './audit/chain.js'
import { sealUnchained } from './audit/chain-store.js'
import {
  CHECKPOINT_FILE,
  createCheckpointer,
  readCheckpoints,
  type Checkpointer,
} from './audit/checkpoints.js'
import { verifyChain } from './audit/verify-chain.js'
import { loadConfigFile } from './config/load-config.js'
import type { LogLevel } from './config/env.js'
import { createDependentClient } from './dependents/http-dependent-client.js'
import type { DependentClient } from './dependents/dependent-client.js'
import type { EngineDeps } from './engine/engine-deps.js'
import { createEmergencyRotation } from './engine/emergency-rotation.js'
import { createForwardCorrection } from './engine/forward-correction.js'
import { createRotationRequests } from './engine/rotation-requests.js'
import { createMaterialService } from './engine/material-service.js'
import { createRevokeScheduler } from './engine/revoke-scheduler.js'
import { createRotationScheduler } from './engine/rotation-scheduler.js'
import { createRunService } from './engine/rotation-service.js'
import { createRunControl } from './engine/run-control.js'
import { createRunExecutor } from './engine/run-executor.js'
import { createVerifyService } from './engine/verify-service.js'
import { createWorker } from './engine/worker.js'
import { bootstrapAdmin } from './governance/bootstrap-admin.js'
import { createApprovalService } from './governance/approvals.js'
import { bootstrapConfig, type BootstrapOutcome } from './governance/config-bootstrap.js'
import { createConfigChanges } from './governance/config-changes.js'
import { createHaltControl } from './governance/halt-control.js'
import { createTokenStore } from './governance/tokens.js'
import { KeyrotorError } from './errors.js'
import { createHttpApp } from './http/app.js'
import type { AuthThrottleOptions } from './http/auth-throttle.js'
import { keyRoutes } from './http/routes/keys.js'
import { runRoutes } from './http/routes/runs.js'
import { scheduleRoutes } from './http/routes/schedule.js'
import { verifyRoutes } from './http/routes/verify.js'
import { configRoutes } from './http/routes/config.js'
import { approvalRoutes } from './http/routes/approvals.js'
import { createHaltReader, haltControlRoutes } from './http/routes/halt.js'
import { incidentRoutes } from './http/routes/incidents.js'
import { auditRoutes } from './http/routes/audit.js'
import { storeAnswers } from './http/routes/health.js'
import { createAlertService } from './observability/alerts.js'
import { createIncidentService } from './observability/incidents.js'
import { readKeyAges } from './observability/key-ages.js'
import { activeSinkTargets } from './observability/sinks/active-sinks.js'
import { tracedDependents, tracedProviders } from './observability/traced-calls.js'
import { createTracing, type Tracing } from './observability/tracing.js'
import { traceRequests } from './http/trace-requests.js'
import { packageVersion } from './cli/version.js'
import type { SpanExporter } from '@opentelemetry/sdk-trace-node'
import {
  createAuditStreamer,
  type AuditStreamer,
  type AuditStreamTimings,
} from './audit/stream/audit-streamer.js'
import { loadActiveConfig } from './governance/active-config.js'
import { createDeliveryOutbox, type OutboxTimings } from './observability/sinks/delivery-outbox.js'
import { createLogger } from './observability/logger.js'
import { createLogBuffer, readLogFile } from './observability/log-buffer.js'
import { createTimelineService } from './observability/timeline.js'
import { timelineRoutes } from './http/routes/timeline.js'
import { createMetrics } from './observability/metrics.js'
import { registerRunbooksOverdue } from './observability/runbook-gauge.js'
import { packagedRunbooksDir, reviewRunbooks } from './governance/runbook-review.js'
import { logFileHealth } from './observability/log-file.js'
import { createReadiness } from './observability/readiness.js'
import { createMasterKey, loadMasterKey } from './providers/local/master-key.js'
import { createProviderRegistry, isProviderAvailable, type ProviderInstance } from './providers/registry.js'
import { isPostgresUrl, migrate, openStore, type Store } from './store/database.js'
import { lockDataDir } from './store/data-dir-lock.js'
import { expireLeases } from './store/runs-repository.js'
import { runDemoWith, type DemoOptions } from './demo/demo.js'
import { runSandboxWith, type SandboxOptions } from './drills/sandbox.js'

export interface StartOptions {
  dataDir: string
  databaseUrl?: string | undefined
  /** PostgreSQL schema (tests isolate themselves in one). */
  schema?: string | undefined
  configPath?: string | undefined
  port?: number | undefined
  host?: string | undefined
  /** KEYROTOR_MASTER_KEY, when the master key is not in the data dir. */
  masterKey?: string | undefined
  logLevel?: LogLevel | undefined
  logFile?: string | undefined
  logDestination?: DestinationStream | undefined
  /** Resolves `secretEnv` names (dependents' webhook secrets); main passes the environment. */
  secretOf?: ((name: string) => string | undefined) | undefined
  /** Replaces the HTTP/exec dependent client (the benchmark's in-process dependents). */
  dependentClient?: DependentClient | undefined
  leaseMs?: number | undefined
  concurrency?: number | undefined
  pollMs?: number | undefined
  revokeIntervalMs?: number | undefined
  /** Audit checkpoints (signed chain heads) are also POSTed here; always written to the data dir. */
  auditCheckpointUrl?: string | undefined
  /** A checkpoint after this many audit records (default 100) … */
  auditCheckpointEvery?: number | undefined
  /** … and every this many ms while the chain grows (default 60 s). */
  auditCheckpointIntervalMs?: number | undefined
  /** The built-in rotation schedule: how often it looks (default 1s), how many scheduled runs at once (4). */
  schedulerIntervalMs?: number | undefined
  schedulerConcurrency?: number | undefined
  /** After a pre-flight refusal of a scheduled run, when the scheduler tries again (default 5m). */
  schedulerRetryMs?: number | undefined
  /** Fault tests only (KEYROTOR_CRASH_POINT): the numbered point where this process kills itself. */
  crashPoint?: string | undefined
  /** False: build everything but do not open a port (benchmark). */
  listen?: boolean | undefined
  /** Told each phase's duration as the engine records it in the metrics (the benchmark's timer). */
  phaseTimer?: ((phase: string, seconds: number) => void) | undefined
  /** Runbooks whose review dates `keyrotor_runbooks_overdue` counts (default: this package's docs/runbooks). */
  runbooksDir?: string | undefined
  /** How old a runbook's `reviewed:` date may be (default 90 days). */
  runbookReviewPeriodMs?: number | undefined
  /** Alert and incident delivery timings (tests shorten them); defaults in delivery-outbox.ts. */
  notifications?: OutboxTimings | undefined
  /** Ready-built provider instances replacing the configured ones of those names (tests). */
  providerInstances?: Readonly<Record<string, ProviderInstance>> | undefined
  /** The OTEL_* variables that turn tracing on (main passes the environment). */
  otelEnv?: Record<string, string | undefined> | undefined
  /** Tests: export spans here (an in-memory exporter) instead of OTLP. */
  traceExporter?: SpanExporter | undefined
  /** Audit stream timings (tests shorten them); defaults in audit-streamer.ts. */
  auditStream?: AuditStreamTimings | undefined
  /** PEM files: serve the API over HTTPS (both or neither). */
  tlsCertFile?: string | undefined
  tlsKeyFile?: string | undefined
  /** Failed authentications allowed per client address and window (default 30 a minute). */
  authThrottle?: AuthThrottleOptions | undefined
  /** The token GET /metrics then requires (`server --metrics-token-env VAR` passes $VAR). */
  metricsToken?: string | undefined
}

export interface Keyrotor {
  url: string
  store: Store
  config: BootstrapOutcome
  engine: EngineDeps
  runs: ReturnType<typeof createRunService>
  worker: ReturnType<typeof createWorker>
  revokes: ReturnType<typeof createRevokeScheduler>
  /** Writes the audit chain's signed head outside the store. */
  auditCheckpoints: Checkpointer
  scheduler: ReturnType<typeof createRotationScheduler>
  /** Streams audit records to the `notifications.audit` sinks. */
  auditStream: AuditStreamer
  /** OpenTelemetry tracing (off unless OTEL_* asks for it). */
  tracing: Tracing
  close(): Promise<void>
}

/** `keyrotor init`: the store, its schema, the master key (0600) and the admin token, shown once. */
export async function runInit(options: {
  dataDir: string
  databaseUrl?: string | undefined
  schema?: string | undefined
  masterKey?: string | undefined
}): Promise<{ adminToken: string }> {
  const store = openStore(options)
  try {
    await migrate(store.db)
    if (options.masterKey === undefined) createMasterKey(options.dataDir)
    else loadMasterKey({ dataDir: options.dataDir, fromEnv: options.masterKey })
    const { token } = await bootstrapAdmin(store.db)
    return { adminToken: token }
  } finally {
    await store.close()
  }
}

/** Builds every dependency by hand and starts the HTTP API, the worker and the revoke timers. */
export async function startKeyrotor(options: StartOptions): Promise<Keyrotor> {
  // read first: a missing certificate must not leave a store opened and a data dir locked
  const tls = readTls(options)
  // the lines this process logs under a correlation id, for the timeline
  const logBuffer = createLogBuffer()
  // trace_id/span_id on every line logged inside a span, once tracing is on
  let traceFields: () => object = () => ({})
  const metrics = createMetrics()
  const readiness = createReadiness()
  const logger = createLogger({
    level: options.logLevel ?? 'info',
    tap: (line) => logBuffer.tap(line),
    mixin: () => traceFields(),
    logFileEvents: logFileHealth(metrics, readiness),
    ...(options.logDestination !== undefined
      ? { destination: options.logDestination }
      : options.logFile !== undefined
        ? { destination: options.logFile }
        : {}),
  })
  // one process per SQLite data dir; holding the lock proves an earlier server is gone
  const lock = isPostgresUrl(options.databaseUrl) ? undefined : lockDataDir(options.dataDir)
  const store = openStore({
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    schema: options.schema,
  })
  await migrate(store.db)
  // so the runs an earlier (dead) process held are resumed at once, not after their lease
  if (lock !== undefined) await expireLeases(store.db, new Date())
  const masterKey = loadMasterKey({ dataDir: options.dataDir, fromEnv: options.masterKey })
  const { db } = store
  const tracing = createTracing({
    env: options.otelEnv ?? process.env,
    version: packageVersion(),
    log: logger.child({ component: 'tracing' }),
    exporter: options.traceExporter,
    onDropped: (spans) => metrics.spansDropped(spans),
  })
  if (tracing.enabled) traceFields = () => tracing.logFields()
  // the chain's key comes from the master key: without it no one can rebuild the chain unseen
  const auditKey = deriveAuditKey(masterKey)
  const checkpointFile = join(options.dataDir, CHECKPOINT_FILE)
  const auditCheckpoints = createCheckpointer({
    db,
    key: auditKey,
    file: checkpointFile,
    webhookUrl: options.auditCheckpointUrl,
    everyRecords: options.auditCheckpointEvery,
    intervalMs: options.auditCheckpointIntervalMs,
    log: logger.child({ component: 'audit' }),
  })
  await sealUnchained(db, auditKey)
  const audit = createAuditLog({ chainKey: auditKey, onAppend: () => auditCheckpoints.noteAppend() })
  // alert and incident sinks of the active config, delivered from a durable outbox
  const secretOf = options.secretOf ?? ((name: string) => process.env[name])
  const outbox = createDeliveryOutbox({
    db,
    targets: activeSinkTargets(db, secretOf),
    secretOf,
    log: logger.child({ component: 'notifications' }),
    onAttempt: (target, outcome) => metrics.notificationAttempt(target.channel, target.type, outcome),
    ...options.notifications,
  })
  // every committed audit record, with its chain hash, to the notifications.audit sinks
  const auditStream = createAuditStreamer({
    db,
    targets: async () => (await loadActiveConfig(db))?.notifications.audit ?? [],
    secretOf,
    log: logger.child({ component: 'audit-stream' }),
    onAttempt: (sink, outcome) => metrics.notificationAttempt('audit', sink.type, outcome),
    ...options.auditStream,
  })
  metrics.collectFrom({
    keyAges: () => readKeyAges(db),
    notificationsPending: () => outbox.pendingCount(),
    sinks: activeSinkTargets(db, secretOf),
    onError: (error) => logger.warn({ err: error }, 'could not compute gauges from the store'),
  })
  const runbooksDir = options.runbooksDir ?? packagedRunbooksDir()
  registerRunbooksOverdue(
    metrics.registry,
    () =>
      runbooksDir === undefined
        ? 0
        : reviewRunbooks(runbooksDir, {
            now: new Date(),
            reviewPeriodMs: options.runbookReviewPeriodMs,
          }).filter((r) => r.overdue).length,
    (error) => logger.warn({ err: error, runbooksDir }, 'could not read the runbooks for their review dates'),
  )
  const alerts = createAlertService({
    db,
    onChange: (n) => metrics.setAlertsOpen(n),
    onRaised: (type) => metrics.alertRaised(type),
    outbox,
  })
  const incidents = createIncidentService({ db, outbox })
  const approvals = createApprovalService({ db, audit, now: () => new Date() })
  // with tracing on, each provider call, probe and notice is a child span of its phase
  const providers = tracedProviders(
    createProviderRegistry(
      { store: { db, masterKey, transact: store.transact }, env: process.env },
      { instances: options.providerInstances },
    ),
    tracing,
  )
  const dependents = tracedDependents(
    options.dependentClient ??
      createDependentClient({
        secretOf: options.secretOf ?? ((name) => process.env[name]),
        // exec probes run without keyrotor's environment (secrets), but must find their programs
        execEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/' },
        traceHeaders: () => tracing.headers(),
      }),
    tracing,
  )
  const engine: EngineDeps = {
    db,
    transact: store.transact,
    providers,
    dependents,
    alerts,
    audit,
    metrics: withPhaseTimer(metrics, options.phaseTimer),
    log: logger.child({ component: 'engine' }),
    now: () => new Date(),
    crash: crashAt(options.crashPoint),
    versionsChanged: (keyId) => material.jwksChanged(keyId),
    incidents,
    trace: tracing.enabled ? tracing : undefined,
    loggedProblems: (correlationId, since) =>
      logBuffer
        .linesFor(correlationId)
        .filter(
          (r) =>
            ['warn', 'error', 'fatal'].includes(String(r.fields.level)) && String(r.fields.time) >= since,
        )
        .map((r) => String(r.fields.msg)),
  }
  const material = createMaterialService(engine)
  const leaseMs = options.leaseMs ?? 30_000
  const runExecutor = createRunExecutor(engine)
  // one trace per run execution: its phases, provider calls, probes and notices inside it
  const executor: typeof runExecutor = {
    execute: (run, signal) =>
      tracing.span(
        `run ${run.kind}`,
        {
          'keyrotor.run_id': run.id,
          'keyrotor.run.kind': run.kind,
          'keyrotor.key': run.key_id,
          'keyrotor.correlation_id': run.correlation_id,
        },
        () => runExecutor.execute(run, signal),
      ),
  }
  const worker = createWorker(engine, executor, {
    workerId: `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`,
    dialect: store.dialect,
    leaseMs,
    concurrency: options.concurrency ?? 32,
    pollMs: options.pollMs ?? 250,
  })
  const runs = createRunService({ ...engine, wake: () => worker.wake() })
  const forwardCorrection = createForwardCorrection({ ...engine, runs, approvals })
  // manual and scheduled rotations: through an approval when the key's policy requires one
  const rotationRequests = createRotationRequests({ ...engine, runs, approvals })
  const emergency = createEmergencyRotation({ ...engine, runs, approvals, incidents })
  const verify = createVerifyService({ ...engine, alerts })
  const haltControl = createHaltControl({
    db,
    audit,
    alerts,
    incidents,
    approvals,
    verifyAll: (actor, purpose) => verify.verifyAll(actor, purpose),
    now: () => new Date(),
  })
  const runControl = createRunControl({ ...engine, wake: () => worker.wake() })
  const revokes = createRevokeScheduler(engine, runs, { intervalMs: options.revokeIntervalMs ?? 1_000 })
  // config propose → approve → apply; registers the executor of 'config.apply' approvals
  const configChanges = createConfigChanges({ ...engine, approvals, parseOptions: { isProviderAvailable } })
  const scheduler = createRotationScheduler(engine, rotationRequests, {
    intervalMs: options.schedulerIntervalMs ?? 1_000,
    concurrency: options.schedulerConcurrency ?? 4,
    retryMs: options.schedulerRetryMs ?? 300_000,
    maxSpreadMs: 3_600_000,
  })

  const file =
    options.configPath === undefined
      ? undefined
      : {
          config: await loadConfigFile(options.configPath, { isProviderAvailable }),
          text: readFileSync(options.configPath, 'utf8'),
          source: options.configPath,
        }
  // the providers of the config in force (the active version; the file on a first start) must
  // answer before anything is enrolled on them or a run touches them
  try {
    const inForce = (await loadActiveConfig(db)) ?? file?.config
    await providers.configure(inForce?.providers ?? {})
    await providers.checkAll(inForce?.keys)
  } catch (error) {
    await providers.close()
    await store.close()
    lock?.release()
    throw error
  }
  const config = await bootstrapConfig(engine, file, 'keyrotor')
  await outbox.refresh()
  if (config.status === 'differs') {
    logger.warn(
      { activeVersion: config.version, fileHash: config.fileHash, activeHash: config.activeHash },
      `${options.configPath} differs from active config version ${config.version}; it is NOT applied (propose it as a change)`,
    )
  }

  const logFile = options.logDestination === undefined ? options.logFile : undefined
  const timeline = createTimelineService({
    db,
    audit,
    logLines: (id) => logBuffer.linesFor(id),
    logFileLines: logFile === undefined ? undefined : (id) => readLogFile(logFile, id),
  })
  const app = createHttpApp({
    tls,
    authThrottle: options.authThrottle,
    metricsToken: options.metricsToken,
    logger,
    db,
    tokenStore: (executor) => createTokenStore(executor),
    audit,
    alerts,
    halt: createHaltReader(db),
    metrics,
    ready: storeAnswers(db),
    readiness,
    version: packageVersion(),
    routes: [
      keyRoutes({
        db,
        runs: rotationRequests,
        material,
        forwardCorrection,
        emergency,
      }),
      runRoutes({ db, verify, control: runControl }),
      scheduleRoutes({ scheduler }),
      verifyRoutes({ verify }),
      configRoutes({ db, fileStatus: config, changes: configChanges }),
      approvalRoutes({ approvals }),
      haltControlRoutes({ halt: haltControl }),
      incidentRoutes({ db, audit, incidents }),
      timelineRoutes({ timeline }),
      auditRoutes({
        db,
        audit,
        verify: async () => verifyChain(db, auditKey, await readCheckpoints(checkpointFile, auditKey)),
      }),
    ],
  })
  traceRequests(app, tracing)

  let url = ''
  if (options.listen !== false) {
    const host = options.host ?? '127.0.0.1'
    url = await app.listen({ port: options.port ?? 8420, host })
    url = url.replace('[::1]', '127.0.0.1')
    if (tls === undefined && !isLoopback(host)) {
      const warning = `listening on ${host} WITHOUT TLS: tokens and key material cross the network in clear; use --tls-cert and --tls-key, or a TLS proxy on the same host`
      logger.warn({ host }, warning)
      process.stderr.write(`keyrotor: WARNING: ${warning}\n`)
    }
  } else {
    await app.ready()
  }
  worker.start()
  await outbox.start()
  auditStream.start()
  revokes.start()
  auditCheckpoints.start()
  scheduler.start()
  logger.info({ url, store: store.location, dialect: store.dialect }, 'keyrotor started')

  return {
    url,
    store,
    config,
    engine,
    runs,
    worker,
    revokes,
    scheduler,
    auditCheckpoints,
    auditStream,
    tracing,
    async close() {
      revokes.stop()
      await scheduler.stop()
      await app.close()
      await worker.stop()
      await outbox.stop()
      await auditStream.stop()
      // the last records of this process are checkpointed while the store is still open
      await auditCheckpoints.stop()
      await providers.close()
      await store.close()
      // what is queued is exported now, bounded by the exporter's timeout
      await tracing.shutdown()
      lock?.release()
      logger.flush()
    },
  }
}

/** The engine's metrics, also telling `timer` each phase's duration when one is given. */
function withPhaseTimer(
  metrics: NonNullable<EngineDeps['metrics']>,
  timer: StartOptions['phaseTimer'],
): NonNullable<EngineDeps['metrics']> {
  if (timer === undefined) return metrics
  return {
    phaseFinished(phase, seconds) {
      metrics.phaseFinished(phase, seconds)
      timer(phase, seconds)
    },
    runFinished: (kind, outcome, seconds) => metrics.runFinished(kind, outcome, seconds),
  }
}

/** `keyrotor server`: runs until SIGINT or SIGTERM, then stops cleanly (runs in flight resume on restart). */
export async function runServer(options: StartOptions): Promise<void> {
  const keyrotor = await startKeyrotor({
    ...options,
    crashPoint: options.crashPoint ?? process.env.KEYROTOR_CRASH_POINT,
  })
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  // bounded: phases are aborted and runs resume elsewhere, but a call that never settles (or a
  // store that does not answer) must not keep a stopping server alive; a second signal is "now"
  const forced = new Promise<'forced'>((resolve) => {
    const timer = setTimeout(() => resolve('forced'), SHUTDOWN_MS)
    timer.unref()
    process.once('SIGINT', () => resolve('forced'))
    process.once('SIGTERM', () => resolve('forced'))
  })
  const how = await Promise.race([keyrotor.close().then(() => 'closed' as const), forced])
  if (how === 'forced') {
    keyrotor.engine.log.warn({ afterMs: SHUTDOWN_MS }, 'shutdown did not finish in time; exiting now')
    process.exit(1)
  }
}

/** How long `keyrotor server` waits for a clean stop after SIGTERM/SIGINT. */
const SHUTDOWN_MS = 10_000
/** The certificate and key when both are given; INVALID_CONFIG for one without the other or an unreadable file. */
function readTls(options: StartOptions): { cert: Buffer; key: Buffer } | undefined {
  const { tlsCertFile, tlsKeyFile } = options
  if (tlsCertFile === undefined && tlsKeyFile === undefined) return undefined
  if (tlsCertFile === undefined || tlsKeyFile === undefined) {
    throw new KeyrotorError('INVALID_CONFIG', '--tls-cert and --tls-key go together: give both or neither')
  }
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file)
    } catch (error) {
      throw new KeyrotorError('INVALID_CONFIG', `${flag}: cannot read ${file}: ${(error as Error).message}`)
    }
  }
  return { cert: read(tlsCertFile, '--tls-cert'), key: read(tlsKeyFile, '--tls-key') }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}

/** `keyrotor demo`: a throwaway keyrotor with sample dependents and one rotation, shown phase by phase. */
export async function runDemo(options: DemoOptions): Promise<void> {
  await runDemoWith(startKeyrotor, runInit, options)
}

/** `keyrotor drill start`'s background process: a sandbox with one injected fault. */
export async function runDrillSandbox(options: SandboxOptions): Promise<void> {
  await runSandboxWith(startKeyrotor, runInit, options)
}

/** Fault tests name one crash point; reaching it kills this process as abruptly as a power cut. */
function crashAt(point: string | undefined): ((reached: string) => void) | undefined {
  if (point === undefined || point === '') return undefined
  return (reached) => {
    if (reached === point) process.kill(process.pid, 'SIGKILL')
  }
}

/** `keyrotor agent`: serves one service's probes and notices until SIGINT or SIGTERM. */
export async function runAgent(options: {
  configPath: string
  logFile?: string | undefined
  logLevel?: LogLevel | undefined
  secretOf: (name: string) => string | undefined
}): Promise<void> {
  const config = await loadAgentConfig(options.configPath)
  const log = createLogger({ level: options.logLevel ?? 'info', destination: options.logFile })
  const agent = await startAgent({ config, secretOf: options.secretOf, log })
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  await agent.close()
}
