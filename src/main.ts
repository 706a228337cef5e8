import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { createAuditLog } from './audit/audit-log.js'
import { deriveAuditKey } from './audit/chain.js'
import { sealUnchained } from './audit/chain-store.js'
import { CHECKPOINT_FILE, createCheckpointer, readCheckpoints } from './audit/checkpoints.js'
import { verifyChain } from './audit/verify-chain.js'
import { loadConfigFile } from './config/load-config.js'
import { createDependentClient } from './dependents/http-dependent-client.js'
import type { EngineDeps } from './engine/engine-deps.js'
import { createEmergencyRotation } from './engine/requests/emergency-rotation.js'
import { createForwardCorrection } from './engine/requests/forward-correction.js'
import { createRotationRequests } from './engine/requests/rotation-requests.js'
import { createMaterialService } from './engine/keys/material-service.js'
import { createRevokeScheduler } from './engine/schedule/revoke-scheduler.js'
import { createRotationScheduler } from './engine/schedule/rotation-scheduler.js'
import { createRunService } from './engine/runs/rotation-service.js'
import { createRunControl } from './engine/runs/run-control.js'
import { createRunExecutor } from './engine/runs/run-executor.js'
import { createVerifyService } from './engine/verify/verify-service.js'
import { createWorker } from './engine/runs/worker.js'
import { createApprovalService } from './governance/approvals.js'
import { bootstrapConfig } from './config-changes/bootstrap.js'
import { createConfigChanges } from './config-changes/config-changes.js'
import { createHaltControl } from './governance/halt-control.js'
import { createTokenStore } from './governance/tokens.js'
import { createHttpApp } from './http/app.js'
import { createHaltReader } from './http/routes/halt.js'
import { apiRoutes } from './http/routes/index.js'
import { storeAnswers } from './http/routes/health.js'
import { createAlertService } from './observability/alerts.js'
import { createIncidentService } from './observability/incidents.js'
import { readKeyAges } from './observability/key-ages.js'
import { activeSinkTargets } from './observability/sinks/active-sinks.js'
import { tracedDependents, tracedProviders } from './observability/traced-calls.js'
import { createTracing } from './observability/tracing.js'
import { traceRequests } from './http/trace-requests.js'
import { packageVersion } from './cli/version.js'
import { createAuditStreamer } from './audit/stream/audit-streamer.js'
import { loadActiveConfig } from './store/config-versions-repository.js'
import { createDeliveryOutbox } from './observability/sinks/delivery-outbox.js'
import { withIncidentComments } from './observability/incident-comments.js'
import { createLogger } from './observability/logger.js'
import { createLogBuffer, readLogFile } from './observability/log-buffer.js'
import { createTimelineService } from './observability/timeline.js'
import { createMetrics } from './observability/metrics.js'
import { registerRunbooksOverdue } from './observability/runbook-gauge.js'
import { packagedRunbooksDir, reviewRunbooks } from './governance/runbook-review.js'
import { logFileHealth } from './observability/log-file.js'
import { createReadiness } from './observability/readiness.js'
import { loadMasterKey } from './providers/local/master-key.js'
import { createProviderRegistry, isProviderAvailable } from './providers/registry.js'
import { isPostgresUrl, migrate, openStore } from './store/database.js'
import { lockDataDir } from './store/data-dir-lock.js'
import { expireLeases } from './store/runs-repository.js'
import { runDemoWith, type DemoOptions } from './demo/demo.js'
import { runSandboxWith, type SandboxOptions } from './drills/sandbox.js'
import { runInit } from './app/init.js'
import { crashAt, withPhaseTimer } from './app/phase-timer.js'
import { runServerWith } from './app/server-command.js'
import type { Keyrotor, StartOptions } from './app/start-options.js'
import { isLoopback, readTls } from './app/tls.js'

// the in-process command bodies the CLI imports from here (see cli/app-entry.ts), and the types
// tests and benchmarks start a keyrotor with
export { runInit } from './app/init.js'
export { runAgent } from './app/agent-command.js'
export type { Keyrotor, StartOptions } from './app/start-options.js'

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
    // alert changes also comment on the tickets of the open incidents they belong to
    outbox: withIncidentComments(outbox),
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
    const inForce = (await loadActiveConfig(db, file?.config)) ?? file?.config
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
    routes: apiRoutes({
      db,
      runs: rotationRequests,
      material,
      forwardCorrection,
      emergency,
      verify,
      control: runControl,
      scheduler,
      fileStatus: config,
      changes: configChanges,
      approvals,
      halt: haltControl,
      audit,
      incidents,
      timeline,
      verifyAuditChain: async () =>
        verifyChain(db, auditKey, await readCheckpoints(checkpointFile, auditKey)),
    }),
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

/** `keyrotor server`: runs until SIGINT or SIGTERM, then stops cleanly (runs in flight resume on restart). */
export async function runServer(options: StartOptions): Promise<void> {
  await runServerWith(startKeyrotor, options)
}

/** `keyrotor demo`: a throwaway keyrotor with sample dependents and one rotation, shown phase by phase. */
export async function runDemo(options: DemoOptions): Promise<void> {
  await runDemoWith(startKeyrotor, runInit, options)
}

/** `keyrotor drill start`'s background process: a sandbox with one injected fault. */
export async function runDrillSandbox(options: SandboxOptions): Promise<void> {
  await runSandboxWith(startKeyrotor, runInit, options)
}
