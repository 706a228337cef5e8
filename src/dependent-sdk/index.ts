/**
 * keyrotor's dependent SDK (`keyrotor/dependent`): embed it in a Node service that uses a
 * keyrotor-managed key, so the service answers keyrotor's probes, applies its signed notices and
 * loads each version's material before saying it accepts it. See docs/dependent-sdk.md.
 */
export { createDependent } from './create-dependent.js'
export type { BootstrapOptions, Dependent, DependentOptions } from './create-dependent.js'
export { createNoticeHandler, NOTIFY_PATH, PROBE_PATH } from './http-handler.js'
export type { Listening } from './http-handler.js'
export { fetchJwks, fetchMaterial, loadVersion, versionOfKid } from './material.js'
export type { FetchJwksOptions, FetchMaterialOptions } from './material.js'
export {
  headerOf,
  parseNotice,
  SIGNATURE_HEADER,
  signPayload,
  TIMESTAMP_HEADER,
  verifyNoticeSignature,
} from './notice.js'
export type { VerifyOptions } from './notice.js'
export { DEPENDENT_ERROR_CODES, DependentError } from './types.js'
export type {
  DependentErrorCode,
  DependentRole,
  JSONWebKeySet,
  JWK,
  JwksResponse,
  LoadedVersion,
  MaterialResponse,
  MaterialSource,
  Notice,
  NoticeEvent,
  NoticeHeaders,
  NoticeResult,
  ProbeAnswer,
} from './types.js'
export type { VersionHooks } from './version-state.js'
