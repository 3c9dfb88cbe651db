import type { AccessConfig } from './config-schema.js';

/**
 * The typed form of an access-as-code file: returns its argument unchanged, so an editor
 * checks and completes a `aiam.config.ts` (or `.mjs`) against the same shape as the YAML.
 *
 * @example
 * export default defineConfig({
 *   buckets: { 'ai-model-data': {} },
 *   users: { aiUser: { policies: ['aiDataAccessPolicy'], accessKeys: ['ci'] } },
 * });
 */
export function defineConfig<const T extends AccessConfig>(config: T): T {
  return config;
}
