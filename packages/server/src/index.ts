// The public surface of @aiam/server.
export * from './errors.js';
export { type Clock, fixedClock, systemClock } from './clock.js';
export * from './store/index.js';
export {
  type AppContext,
  DEFAULT_DATA_DIR,
  DEFAULT_HOST,
  DEFAULT_PORT,
  type RunningServer,
  type StartServerOptions,
  startServer,
} from './app/start-server.js';
export { createLogger, type Logger, type LoggerOptions, type LogLevel } from './observability/logger.js';
export { controlPlaneOpenApi, controlPlaneRoutes } from './api/control-plane-routes.js';
export {
  type RotateStoreMasterKeyOptions,
  rotateStoreMasterKey,
  type StoreMasterKeyRotation,
} from './services/master-key-rotation.js';
