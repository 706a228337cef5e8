// The CLI talks to the server through the published client (keyrotor/client).
export {
  createApiClient,
  seg,
  type ApiClient,
  type ApiResponse,
  type RequestOptions,
} from '../client/http.js'
