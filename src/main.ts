import { hostname } from 'node:os'
import { join } from 'node:path'
import { parsedYamlCacheIn } from './config/parsed-yaml-cache.js'
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
import { tracedDependents, tracedProviders, tracedRuns } from './observability/traced-calls.js'
import { createTracing } from './observability/tracing.js'
import { traceRequests } from './http/trace-requests.js'
import { packageVersion } from './cli/version.js'
import { withIncidentComments } from './observability/incident-comments.js'
import { loggedProblems, readLogFile } from './observability/log-buffer.js'
import { createTimelineService } from './observability/timeline.js'
import { loadMasterKey } from './providers/local/master-key.js'
import { createProviderRegistry, isProviderAvailable } from './providers/registry.js'
import { openAuditChain } from './app/audit-chain.js'
import { configureProvidersInForce, readConfigFile, warnIfFileDiffers } from './app/config-at-start.js'
import { listen } from './app/listen.js'
import { createNotifications, registerGauges } from './app/notifications.js'
import { openServerStore } from './app/open-store.js'
import { crashAt, withPhaseTimer } from './app/phase-timer.js'
import type { Keyrotor, StartOptions } from './app/start-options.js'
import { createTelemetry } from './app/telemetry.js'
import { readTls } from './app/tls.js'

// what tests and benchmarks start a keyrotor with, beside startKeyrotor (the commands: app/commands.ts)
export { runInit } from './app/init.js'
export type { Keyrotor, StartOptions } from './app/start-options.js'

/**
 * The composition root: builds every dependency by hand, wires them, and starts the HTTP API, the
 * worker, the outbox, the revoke timers, the audit checkpoints and the scheduler.
 */
export async function startKeyrotor(options: StartOptions): Promise<Keyrotor> {
  // read first: a missing certificate must not leave a store opened and a data dir locked
  const tls = readTls(options)
  const telemetry = createTelemetry(options)
  const { logBuffer, metrics, logger } = telemetry
  const { store, lock } = await openServerStore(options)
  const masterKey = loadMasterKey({ dataDir: options.dataDir, fromEnv: options.masterKey })
  const { db } = store
  const tracing = createTracing({
    env: options.otelEnv ?? process.env,
    version: packageVersion(),
    log: logger.child({ component: 'tracing' }),
    exporter: options.traceExporter,
    onDropped: (spans) => metrics.spansDropped(spans),
  })
  telemetry.traceLogsWith(tracing)
  const auditChain = await openAuditChain({
    db,
    masterKey,
    options,
    log: logger.child({ component: 'audit' }),
  })
  const { audit } = auditChain
  const secretOf = options.secretOf ?? ((name: string) => process.env[name])
  const { outbox, auditStream } = createNotifications({ db, secretOf, metrics, logger, options })
  registerGauges({ db, secretOf, metrics, logger, options, outbox })
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
        secretOf,
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
    versionsChanged: (keyId) => {
      material.jwksChanged(keyId)
      scheduler.changed()
    },
    incidents,
    trace: tracing.enabled ? tracing : undefined,
    loggedProblems: (correlationId, since) => loggedProblems(logBuffer, correlationId, since),
  }
  const material = createMaterialService(engine)
  const worker = createWorker(engine, tracedRuns(createRunExecutor(engine), tracing), {
    workerId: `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`,
    dialect: store.dialect,
    leaseMs: options.leaseMs ?? 30_000,
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

  // the YAML parse is cached in the data dir by the text's hash (a large file parses slowly)
  const file = await readConfigFile(options.configPath, parsedYamlCacheIn(join(options.dataDir, 'cache')))
  try {
    await configureProvidersInForce(db, providers, file)
  } catch (error) {
    await providers.close()
    await store.close()
    lock?.release()
    throw error
  }
  const config = await bootstrapConfig(engine, file, 'keyrotor')
  await outbox.refresh()
  warnIfFileDiffers(logger, options.configPath, config)

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
    readiness: telemetry.readiness,
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
      verifyAuditChain: () => auditChain.verify(),
    }),
  })
  traceRequests(app, tracing)

  const url = await listen(app, options, tls !== undefined, logger)
  worker.start()
  await outbox.start()
  auditStream.start()
  revokes.start()
  auditChain.checkpoints.start()
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
    auditCheckpoints: auditChain.checkpoints,
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
      await auditChain.checkpoints.stop()
      await providers.close()
      await store.close()
      // what is queued is exported now, bounded by the exporter's timeout
      await tracing.shutdown()
      lock?.release()
      logger.flush()
    },
  }
}
