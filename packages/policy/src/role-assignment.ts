import { compileActionList, type CompiledStatement, StatementMatch } from './compile-policy.js';
import type { EvaluationScratch } from './condition-evaluate.js';
import type { MatchedStatement } from './decision.js';
import { AiamError } from './errors.js';
import type { RequestPrincipal } from './request-context.js';
import { scopeContains } from './resource-name.js';

/**
 * Azure-style role-based access control on aiam's resource names: a role definition lists
 * what it permits, a role assignment grants it to a principal at a scope (inherited by
 * everything below the scope), and a deny assignment blocks actions at a scope whatever the
 * role assignments say.
 * https://learn.microsoft.com/azure/role-based-access-control/role-definitions
 * https://learn.microsoft.com/azure/role-based-access-control/deny-assignments
 *
 * Action patterns use aiam's `service:Action` names with wildcards (`ml:Get*`, `s3:*`), matched
 * case-insensitively. Control-plane actions are granted by `actions` minus `notActions`, data
 * actions only by `dataActions` minus `notDataActions` (as in Azure, `*` in `actions` grants
 * no data action). Which actions are data actions is the caller's to say (`isDataAction`).
 */
export interface RoleDefinition {
  /** Stable id; assignments refer to it (or to `name`). */
  readonly id: string;
  readonly name?: string;
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  readonly dataActions?: readonly string[];
  readonly notDataActions?: readonly string[];
  /** Scopes at or below which the role may be assigned; omitted means anywhere. */
  readonly assignableScopes?: readonly string[];
}

/** A role granted to a principal (user, group, role or managed identity ARN) at a scope. */
export interface RoleAssignment {
  readonly id: string;
  readonly principalArn: string;
  /** The role definition's id or name. */
  readonly roleDefinition: string;
  /** An ARN prefix by `scopeContains` (e.g. `arn:aiam:ml::1:workspace/ws/model/m`), or `*`. */
  readonly scope: string;
}

/** Actions denied to principals at a scope; wins over every allow. */
export interface DenyAssignment {
  readonly id: string;
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  readonly dataActions?: readonly string[];
  readonly notDataActions?: readonly string[];
  /** Principal ARNs (users, groups, roles, identities); `*` is everyone. */
  readonly principals: readonly string[];
  /** Principals exempt from the deny (e.g. a break-glass group). */
  readonly excludePrincipals?: readonly string[];
  readonly scope: string;
}

/** Tells whether an action (given lowercased, `s3:getobject`) is a data action. */
export type DataActionPredicate = (actionLower: string) => boolean;

/**
 * The data actions aiam knows without its catalog: reading and writing objects and invoking
 * models. The action catalog supplies the full list through `isDataAction`.
 */
export const DEFAULT_DATA_ACTIONS: readonly string[] = [
  's3:GetObject',
  's3:GetObjectAttributes',
  's3:GetObjectTagging',
  's3:PutObject',
  's3:PutObjectTagging',
  's3:DeleteObject',
  's3:DeleteObjectTagging',
  's3:ListBucket',
  's3:ListBucketMultipartUploads',
  's3:ListMultipartUploadParts',
  's3:AbortMultipartUpload',
  'ml:InvokeEndpoint',
];

const DEFAULT_DATA_SET = new Set(DEFAULT_DATA_ACTIONS.map((a) => a.toLowerCase()));

/** The default `DataActionPredicate`: membership in `DEFAULT_DATA_ACTIONS`. */
export const defaultIsDataAction: DataActionPredicate = (actionLower) => DEFAULT_DATA_SET.has(actionLower);

/** Options shared by the assignment compilers. */
export interface RoleAssignmentOptions {
  isDataAction?: DataActionPredicate;
}

/** A role assignment or deny assignment that cannot be used as written. */
export class InvalidRoleAssignmentError extends AiamError {
  constructor(message: string) {
    super('ERR_INVALID_ROLE_ASSIGNMENT', message);
  }
}

/** A role definition compiled to two action tests. */
export interface CompiledRoleDefinition {
  readonly definition: RoleDefinition;
  /** True when the role permits the (lowercased) action, given whether it is a data action. */
  permits(actionLower: string, isData: boolean): boolean;
  /** Lowercased services its actions can touch, or undefined for any (see `CompiledStatement`). */
  readonly services: readonly string[] | undefined;
}

function servicesOf(patterns: readonly string[]): string[] | undefined {
  const out = new Set<string>();
  for (const p of patterns) {
    const colon = p.indexOf(':');
    const service = colon < 0 ? p : p.slice(0, colon);
    if (colon < 0 || service.includes('*') || service.includes('?')) return undefined;
    out.add(service.toLowerCase());
  }
  return [...out];
}

const NOTHING = (): boolean => false;

function compileGrant(
  allow: readonly string[] | undefined,
  except: readonly string[] | undefined,
): (actionLower: string) => boolean {
  if (!allow || allow.length === 0) return NOTHING;
  const yes = compileActionList(allow);
  if (!except || except.length === 0) return yes;
  const no = compileActionList(except);
  return (a) => yes(a) && !no(a);
}

function compilePermissions(p: {
  actions?: readonly string[];
  notActions?: readonly string[];
  dataActions?: readonly string[];
  notDataActions?: readonly string[];
}): Pick<CompiledRoleDefinition, 'permits' | 'services'> {
  const control = compileGrant(p.actions, p.notActions);
  const data = compileGrant(p.dataActions, p.notDataActions);
  return {
    permits: (a, isData) => (isData ? data(a) : control(a)),
    services: servicesOf([...(p.actions ?? []), ...(p.dataActions ?? [])]),
  };
}

/** Compiles a role definition once; assignments of it share the result. */
export function compileRoleDefinition(definition: RoleDefinition): CompiledRoleDefinition {
  return { definition, ...compilePermissions(definition) };
}

function principalIn(set: ReadonlySet<string>, p: RequestPrincipal, scratch: EvaluationScratch): boolean {
  if (set.has(p.arn)) return true;
  if (p.identityArns) for (const a of p.identityArns) if (set.has(a)) return true;
  if (p.groupArns) for (const a of p.groupArns) if (set.has(a)) return true;
  const known = scratch.groups;
  if (known !== undefined && known.size > 0) for (const a of set) if (known.has(a)) return true;
  return false;
}

/**
 * Compiles a role assignment into a statement of kind `role-assignment` (an identity-based
 * grant: permissions boundaries and session policies cap it). It applies when the requester is
 * the assigned principal (or in the assigned group, or a session of the assigned role), the
 * resource lies at or below the scope, and the role permits the action.
 * Throws `InvalidRoleAssignmentError` when the scope is outside the role's assignable scopes.
 */
export function compileRoleAssignment(
  assignment: RoleAssignment,
  role: CompiledRoleDefinition,
  options: RoleAssignmentOptions = {},
): CompiledStatement {
  const scopes = role.definition.assignableScopes;
  if (scopes && !scopes.some((s) => scopeContains(s, assignment.scope))) {
    throw new InvalidRoleAssignmentError(
      `Role assignment ${assignment.id}: role ${role.definition.name ?? role.definition.id} can't be assigned at ` +
        `${assignment.scope}; its assignable scopes are ${scopes.join(', ')}.`,
    );
  }
  const isData = options.isDataAction ?? defaultIsDataAction;
  const who = new Set([assignment.principalArn]);
  const scope = assignment.scope;
  const matched: MatchedStatement = Object.freeze({
    policyId: assignment.id,
    policyKind: 'role-assignment',
    ...(role.definition.name !== undefined ? { sid: role.definition.name } : {}),
    effect: 'Allow',
    statementIndex: 0,
    roleDefinitionId: role.definition.id,
  });
  return {
    policyId: assignment.id,
    kind: 'role-assignment',
    effect: 'Allow',
    index: 0,
    matched,
    services: role.services,
    applies(request, actionLower, scratch) {
      if (!scopeContains(scope, request.resource)) return StatementMatch.None;
      if (!role.permits(actionLower, isData(actionLower))) return StatementMatch.None;
      return principalIn(who, request.principal, scratch) ? StatementMatch.Yes : StatementMatch.None;
    },
  };
}

/**
 * Compiles a deny assignment into a statement of kind `deny-assignment` (an explicit deny).
 * It applies to its principals (`*` = everyone) except `excludePrincipals`, at or below its
 * scope, for the actions it lists.
 */
export function compileDenyAssignment(
  deny: DenyAssignment,
  options: RoleAssignmentOptions = {},
): CompiledStatement {
  if (deny.principals.length === 0) {
    throw new InvalidRoleAssignmentError(
      `Deny assignment ${deny.id} names no principals; use "*" for everyone.`,
    );
  }
  const isData = options.isDataAction ?? defaultIsDataAction;
  const everyone = deny.principals.includes('*');
  const who = new Set(deny.principals);
  const exempt = new Set(deny.excludePrincipals ?? []);
  const perms = compilePermissions(deny);
  const scope = deny.scope;
  const matched: MatchedStatement = Object.freeze({
    policyId: deny.id,
    policyKind: 'deny-assignment',
    effect: 'Deny',
    statementIndex: 0,
  });
  return {
    policyId: deny.id,
    kind: 'deny-assignment',
    effect: 'Deny',
    index: 0,
    matched,
    services: perms.services,
    applies(request, actionLower, scratch) {
      if (!scopeContains(scope, request.resource)) return StatementMatch.None;
      if (!perms.permits(actionLower, isData(actionLower))) return StatementMatch.None;
      if (!everyone && !principalIn(who, request.principal, scratch)) return StatementMatch.None;
      if (exempt.size > 0 && principalIn(exempt, request.principal, scratch)) return StatementMatch.None;
      return StatementMatch.Yes;
    },
  };
}
