import { wildcardMatch } from '../wildcard-match.js';
import source from './actions.json' with { type: 'json' };

/**
 * Typed access to aiam's catalog (`actions.json`, the one source): every action aiam serves, the
 * resource types each applies to, the condition keys each supports, the global condition keys,
 * and the built-in Azure-style role definitions. Validation, documentation (`docs/actions.md`)
 * and Azure-style evaluation (data vs control actions) all read it from here.
 */

/** Access levels, as the AWS Service Authorization Reference names them. */
export type AccessLevel = 'List' | 'Read' | 'Write' | 'Permissions management' | 'Tagging';

/** Control-plane actions manage resources; data-plane actions use them (Azure's actions vs dataActions). */
export type ActionPlane = 'control' | 'data';

/** Condition-key types, as the Service Authorization Reference names them. */
export type ConditionKeyType =
  | 'String'
  | 'ArrayOfString'
  | 'Numeric'
  | 'Date'
  | 'Bool'
  | 'IPAddress'
  | 'ARN'
  | 'ArrayOfARN'
  | 'Binary';

/** One condition key; a name ending in `/${TagKey}` stands for a family (`aws:PrincipalTag/team`). */
export interface ConditionKeyDefinition {
  name: string;
  type: ConditionKeyType;
  description: string;
}

/** One resource type of a service, with its ARN template (`${Partition}`, `${Account}`, ...). */
export interface ResourceTypeDefinition {
  name: string;
  arn: string;
  description: string;
}

/** One action. `resourceTypes` empty means the action only applies to `"*"`. */
export interface ActionDefinition {
  /** `service:Name`, e.g. `s3:GetObject`. */
  name: string;
  service: string;
  accessLevel: AccessLevel;
  plane: ActionPlane;
  resourceTypes: readonly string[];
  conditionKeys: readonly string[];
  description: string;
}

/** One service prefix of the catalog. */
export interface ServiceDefinition {
  prefix: string;
  title: string;
  resourceTypes: readonly ResourceTypeDefinition[];
  conditionKeys: readonly ConditionKeyDefinition[];
  actions: readonly ActionDefinition[];
}

/** A built-in Azure-style role definition. Patterns use IAM wildcards (`s3:GetObject*`). */
export interface RoleDefinitionTemplate {
  name: string;
  description: string;
  actions: readonly string[];
  notActions: readonly string[];
  dataActions: readonly string[];
  notDataActions: readonly string[];
}

interface CatalogSource {
  conditionKeyTypes: string[];
  globalConditionKeys: Record<string, { type: string; description: string }>;
  unsupportedGlobalConditionKeys: { keys: string[] };
  services: Record<
    string,
    {
      title: string;
      resourceTypes: Record<string, { arn: string; description: string }>;
      conditionKeys: Record<string, { type: string; description: string }>;
      actions: Record<
        string,
        {
          accessLevel: string;
          plane: string;
          resourceTypes: string[];
          conditionKeys: string[];
          description: string;
        }
      >;
    }
  >;
  roleDefinitions: Record<
    string,
    {
      description: string;
      actions: string[];
      notActions: string[];
      dataActions: string[];
      notDataActions: string[];
    }
  >;
}

/** The whole catalog, decoded once. */
export interface Catalog {
  conditionKeyTypes: readonly ConditionKeyType[];
  globalConditionKeys: readonly ConditionKeyDefinition[];
  /** AWS global keys that aiam never sets (a condition on one sees a missing key). */
  unsupportedGlobalConditionKeys: readonly string[];
  services: readonly ServiceDefinition[];
  roleDefinitions: readonly RoleDefinitionTemplate[];
}

function keysOf(record: Record<string, { type: string; description: string }>): ConditionKeyDefinition[] {
  return Object.entries(record).map(([name, k]) => ({
    name,
    type: k.type as ConditionKeyType,
    description: k.description,
  }));
}

function buildCatalog(src: CatalogSource): Catalog {
  return {
    conditionKeyTypes: src.conditionKeyTypes as ConditionKeyType[],
    globalConditionKeys: keysOf(src.globalConditionKeys),
    unsupportedGlobalConditionKeys: src.unsupportedGlobalConditionKeys.keys,
    services: Object.entries(src.services).map(([prefix, s]) => ({
      prefix,
      title: s.title,
      resourceTypes: Object.entries(s.resourceTypes).map(([name, r]) => ({ name, ...r })),
      conditionKeys: keysOf(s.conditionKeys),
      actions: Object.entries(s.actions).map(([name, a]) => ({
        name: `${prefix}:${name}`,
        service: prefix,
        accessLevel: a.accessLevel as AccessLevel,
        plane: a.plane as ActionPlane,
        resourceTypes: a.resourceTypes,
        conditionKeys: a.conditionKeys,
        description: a.description,
      })),
    })),
    roleDefinitions: Object.entries(src.roleDefinitions).map(([name, r]) => ({ name, ...r })),
  };
}

/** aiam's catalog. */
export const catalog: Catalog = buildCatalog(source as CatalogSource);

const servicesByPrefix = new Map(catalog.services.map((s) => [s.prefix, s]));
const actionsByName = new Map(
  catalog.services.flatMap((s) => s.actions.map((a) => [a.name.toLowerCase(), a] as const)),
);
const allActions = catalog.services.flatMap((s) => s.actions);

/** The service with this prefix (case-insensitive, as AWS treats service prefixes), if aiam serves it. */
export function findService(prefix: string): ServiceDefinition | undefined {
  return servicesByPrefix.get(prefix.toLowerCase());
}

/** The action named `service:Name` (case-insensitive, as AWS matches actions). */
export function findAction(name: string): ActionDefinition | undefined {
  return actionsByName.get(name.toLowerCase());
}

/** Every action of the catalog, in catalog order. */
export function listActions(): readonly ActionDefinition[] {
  return allActions;
}

function keyMatches(definition: string, key: string): boolean {
  const lower = key.toLowerCase();
  const def = definition.toLowerCase();
  const family = def.indexOf('/${');
  // `aws:PrincipalTag/${TagKey}` stands for `aws:PrincipalTag/` followed by any non-empty tag key.
  if (family >= 0) return lower.length > family + 1 && lower.startsWith(def.slice(0, family + 1));
  return lower === def;
}

/**
 * The definition of a condition key, global (`aws:…`, `aiam:…`) or of a service (`s3:prefix`),
 * matched case-insensitively; tag families match any tag key.
 */
export function findConditionKey(key: string): ConditionKeyDefinition | undefined {
  for (const k of catalog.globalConditionKeys) if (keyMatches(k.name, key)) return k;
  const service = findService(key.slice(0, Math.max(0, key.indexOf(':'))));
  if (service) for (const k of service.conditionKeys) if (keyMatches(k.name, key)) return k;
  return undefined;
}

/** True when `key` is one of the action's own condition keys (global keys apply everywhere). */
export function actionSupportsConditionKey(action: ActionDefinition, key: string): boolean {
  return action.conditionKeys.some((k) => keyMatches(k, key));
}

/** True for an AWS global condition key that exists in AWS but that aiam never sets. */
export function isUnsupportedGlobalConditionKey(key: string): boolean {
  const lower = key.toLowerCase();
  return catalog.unsupportedGlobalConditionKeys.some((k) => k.toLowerCase() === lower);
}

/**
 * The catalog actions an `Action` pattern covers (`s3:Get*`, `*:List*`, `*`), matched as IAM
 * matches actions: globs, case-insensitively.
 */
export function matchActions(pattern: string): ActionDefinition[] {
  return allActions.filter((a) => wildcardMatch(pattern, a.name, true));
}

/** The built-in role definition with this name (case-insensitive). */
export function findBuiltInRole(name: string): RoleDefinitionTemplate | undefined {
  const lower = name.toLowerCase();
  return catalog.roleDefinitions.find((r) => r.name.toLowerCase() === lower);
}

/**
 * True for data-plane actions (`s3:GetObject`, `ml:InvokeEndpoint`): Azure-style role
 * definitions grant them through `dataActions`, never through `actions`. Unknown actions are
 * control-plane, so a data grant can never be widened by a typo.
 */
export function isDataAction(name: string): boolean {
  return findAction(name)?.plane === 'data';
}
