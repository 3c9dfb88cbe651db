// The public surface of @aiam/server.
export * from './errors.js';
export { type Clock, fixedClock, systemClock } from './clock.js';
export * from './store/index.js';
