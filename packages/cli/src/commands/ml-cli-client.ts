import { MlClient } from '@aiam/client';
import type { CliIo } from '../cli-io.js';
import type { ApiCliIo } from './api-command-support.js';

/** The model-registry client of a command: endpoint and credentials from the environment, as AWS tools do. */
export function mlClientFor(io: CliIo): MlClient {
  const api = io as ApiCliIo;
  return new MlClient({ env: api.env ?? process.env, ...(api.fetch ? { fetch: api.fetch } : {}) });
}
