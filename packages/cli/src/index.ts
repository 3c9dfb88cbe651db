export { type CliIo, type Command, processIo, UsageError } from './cli-io.js';
export { main } from './main.js';
