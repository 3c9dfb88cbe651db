// The public surface of @aiam/client. Every export is named here.
export {
  type AccessConfig,
  type AccessKeyConfig,
  ACCESS_CONFIG_SCHEMA,
  type BucketConfig,
  type ConfigPathElement,
  type ConfigSchema,
  checkConfigShape,
  type DenyAssignmentConfig,
  type DeploymentConfig,
  type DomainConfig,
  type DomainUserSettingsConfig,
  type EndpointConfig,
  type EndpointLimitsConfig,
  type GroupConfig,
  type IdentityConfig,
  type IdentitySettingConfig,
  type ModelConfig,
  type ModelVersionConfig,
  type PolicyConfig,
  type PolicyDocumentConfig,
  type RoleAssignmentConfig,
  type RoleConfig,
  type RoleDefinitionConfig,
  type ScimGrantConfig,
  type ShapeIssue,
  type TagsConfig,
  type TrustedIssuerConfig,
  type UserConfig,
  type UserProfileConfig,
  type WorkspaceConfig,
} from './config/config-schema.js';
export { defineConfig } from './config/define-config.js';
export {
  type ConfigIssue,
  ConfigError,
  type ConfigLoadResult,
  checkConfigValue,
  formatConfigIssue,
  formatConfigPath,
  type LoadConfigOptions,
  loadConfigText,
  parseConfigText,
} from './config/config-loader.js';
export { loadConfigFile, readConfigFile } from './config/config-file.js';
export { checkConfigReferences, type ReferenceIssue } from './config/check-config.js';
export * from './config/normalized-config.js';
