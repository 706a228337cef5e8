/**
 * keyrotor/client: a typed client of keyrotor's HTTP API, derived from the zod schemas the server
 * validates with and writes /openapi.json from (src/http/schemas). The CLI talks through it.
 *
 *   const kr = createKeyrotorClient({ url: 'https://keyrotor.internal', token })
 *   const { status, body: run } = await kr.call('startRotation', { params: { key: 'payments-dek' } })
 *
 * Errors arrive as KeyrotorError with the problem's `code` (docs/errors.md).
 */
export { KeyrotorError } from '../errors.js'
export type { ErrorCode } from '../errors.js'
export {
  createApiClient,
  seg,
  type ApiClient,
  type ApiResponse,
  type ClientConnection,
  type RequestOptions,
} from './http.js'
export {
  createKeyrotorClient,
  type KeyrotorClient,
  type OperationInput,
  type OperationOutput,
} from './keyrotor-client.js'
export { OPERATION_ROUTES, type OperationId, type OperationRoute } from './operation-routes.js'
export { OPERATIONS, type OperationSpec } from './operations.js'
export type * from './views.js'
