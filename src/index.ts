/**
 * keyrotor as a library: start a server in-process (tests, embedding, the benchmark) and the
 * types of what it serves. Dependent services use `keyrotor/dependent` instead.
 */
export { startKeyrotor } from './main.js'
export { runInit, runServer, runDemo } from './app/commands.js'
export type { Keyrotor, StartOptions } from './app/start-options.js'
export { KeyrotorError, ERROR_CODES, FAILURE_CLASSES } from './errors.js'
export type { ErrorCode, FailureClass } from './errors.js'
export type { KeyView, RunView } from './engine/views.js'
export type { KeyrotorConfig, KeyConfig, KeyPolicy, DependentConfig } from './config/schema.js'
export { parseConfig, loadConfigFile } from './config/load-config.js'
export { configJsonSchema } from './config/json-schema.js'
export type { KeyProvider } from './providers/key-provider.js'
export type { DependentClient, ProbeAnswer, Notice, NoticeEvent } from './dependents/dependent-client.js'
