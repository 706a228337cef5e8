import type { FastifyPluginAsync } from 'fastify'
import { approvalRoutes } from './approvals.js'
import { alertRoutes } from './alerts.js'
import { auditRoutes } from './audit.js'
import { configRoutes } from './config.js'
import { consoleRoutes } from './console.js'
import { haltControlRoutes, haltRoutes } from './halt.js'
import { healthRoutes } from './health.js'
import { incidentRoutes } from './incidents.js'
import { keyRoutes } from './keys.js'
import { runRoutes } from './runs.js'
import { scheduleRoutes } from './schedule.js'
import { sessionRoutes } from './session.js'
import { timelineRoutes } from './timeline.js'
import { tokenRoutes } from './tokens.js'
import { verifyRoutes } from './verify.js'

type DepsOf<F extends (deps: never) => FastifyPluginAsync> = Parameters<F>[0]

/** What the routes every app serves read: app.ts hands in its own deps. */
export type BaseRouteDeps = DepsOf<typeof healthRoutes> &
  DepsOf<typeof tokenRoutes> &
  DepsOf<typeof alertRoutes> &
  DepsOf<typeof haltRoutes> & {
    /** Where the built operator console is (default: this package's dist/console). */
    consoleRoot?: string
  }

/**
 * The routes every app serves, even one built without services (tests of the HTTP edge): health,
 * tokens, alerts, the halt's state, and the operator console at `/` with its session.
 */
export function baseRoutes(deps: BaseRouteDeps): FastifyPluginAsync[] {
  return [
    healthRoutes(deps),
    tokenRoutes(deps),
    alertRoutes(deps),
    haltRoutes(deps),
    // the operator console: a page over the same API, tokens and roles
    sessionRoutes(),
    consoleRoutes({ root: deps.consoleRoot }),
  ]
}

/** The services behind the API's resource routes; main.ts builds them. */
export type ApiServices = DepsOf<typeof keyRoutes> & {
  verify: DepsOf<typeof runRoutes>['verify'] & DepsOf<typeof verifyRoutes>['verify']
  control: DepsOf<typeof runRoutes>['control']
  scheduler: DepsOf<typeof scheduleRoutes>['scheduler']
  fileStatus: DepsOf<typeof configRoutes>['fileStatus']
  changes: DepsOf<typeof configRoutes>['changes']
  approvals: DepsOf<typeof approvalRoutes>['approvals']
  halt: DepsOf<typeof haltControlRoutes>['halt']
  audit: DepsOf<typeof incidentRoutes>['audit'] & DepsOf<typeof auditRoutes>['audit']
  incidents: DepsOf<typeof incidentRoutes>['incidents']
  timeline: DepsOf<typeof timelineRoutes>['timeline']
  verifyAuditChain: DepsOf<typeof auditRoutes>['verify']
}

/** Every resource route of the API; app.ts registers them after `baseRoutes`. */
export function apiRoutes(s: ApiServices): FastifyPluginAsync[] {
  return [
    keyRoutes(s),
    runRoutes({ db: s.db, verify: s.verify, control: s.control }),
    scheduleRoutes({ scheduler: s.scheduler }),
    verifyRoutes({ verify: s.verify }),
    configRoutes({ db: s.db, fileStatus: s.fileStatus, changes: s.changes }),
    approvalRoutes({ approvals: s.approvals }),
    haltControlRoutes({ halt: s.halt }),
    incidentRoutes({ db: s.db, audit: s.audit, incidents: s.incidents }),
    timelineRoutes({ timeline: s.timeline }),
    auditRoutes({ db: s.db, audit: s.audit, verify: s.verifyAuditChain }),
  ]
}
