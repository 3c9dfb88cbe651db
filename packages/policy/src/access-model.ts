import type { CompiledPolicy, CompiledStatement } from './compile-policy.js';
import type { Decision } from './decision.js';
import { AiamError } from './errors.js';
import { DecisionBuilder } from './evaluate-policies.js';
import type { AuthorizationRequest } from './request-context.js';
import {
  type CompiledRoleDefinition,
  compileDenyAssignment,
  compileRoleAssignment,
  compileRoleDefinition,
  type DataActionPredicate,
  type DenyAssignment,
  type RoleAssignment,
  type RoleDefinition,
} from './role-assignment.js';

/** A user, role or managed identity in the model, with what is attached to it. */
export interface AccessModelPrincipal {
  readonly arn: string;
  /** ARNs of the groups it belongs to. */
  readonly groups?: readonly string[];
  /** Ids of the identity-based policies attached to it (managed or inline). */
  readonly policies?: readonly string[];
  /** Id of its permissions boundary policy. */
  readonly permissionsBoundary?: string;
}

/** A group and the identity-based policies attached to it. */
export interface AccessModelGroup {
  readonly arn: string;
  readonly policies?: readonly string[];
}

/**
 * A resource-based policy (or a role's trust policy) guarding every resource at or below
 * `resource` (by `scopeContains`): a bucket policy is attached at `arn:aws:s3:::bucket` and so
 * also covers `arn:aws:s3:::bucket/key`; a trust policy at the role's ARN.
 */
export interface ResourcePolicyAttachment {
  readonly resource: string;
  readonly policy: string;
}

/** Everything the model is built from. Policies are compiled already (`compilePolicy`). */
export interface AccessModelInput {
  readonly policies?: readonly CompiledPolicy[];
  readonly principals?: readonly AccessModelPrincipal[];
  readonly groups?: readonly AccessModelGroup[];
  readonly resourcePolicies?: readonly ResourcePolicyAttachment[];
  readonly roleDefinitions?: readonly RoleDefinition[];
  readonly roleAssignments?: readonly RoleAssignment[];
  readonly denyAssignments?: readonly DenyAssignment[];
  /** Which actions are data actions (for role and deny assignments); see `DataActionPredicate`. */
  readonly isDataAction?: DataActionPredicate;
}

/** Per-request options of `AccessModel.authorize`. */
export interface AuthorizeOptions {
  /**
   * Session policies of the requester's session (AssumeRole with `Policy`/`PolicyArns`). When
   * given, even empty, they cap identity-based grants.
   */
  readonly sessionPolicies?: readonly CompiledPolicy[];
  /**
   * Identity policies (kind `identity`) the caller holds for this request only, beside those the
   * model attaches to it: an implicit grant a surface derives from the credential itself (an
   * endpoint key may invoke its own endpoint). They grant like attached policies, so deny
   * assignments, Deny statements, boundaries and session policies still apply.
   */
  readonly identityPolicies?: readonly CompiledPolicy[];
}

/** The model's input refers to something it does not define. */
export class AccessModelError extends AiamError {
  constructor(message: string) {
    super('ERR_ACCESS_MODEL_INVALID', message);
  }
}

/**
 * Statements indexed by the service of the actions they can match. Each service's list keeps
 * the statements' original order and includes the any-service statements (`*`, `NotAction`),
 * so a lookup is one map read and a scan of only the statements that could apply.
 */
class StatementIndex {
  private readonly byService = new Map<string, CompiledStatement[]>();
  private readonly any: CompiledStatement[] = [];
  readonly size: number;

  constructor(statements: readonly CompiledStatement[]) {
    this.size = statements.length;
    const services = new Set<string>();
    for (const s of statements) if (s.services) for (const svc of s.services) services.add(svc);
    for (const svc of services) this.byService.set(svc, []);
    for (const s of statements) {
      if (s.services === undefined) {
        this.any.push(s);
        for (const list of this.byService.values()) list.push(s);
      } else {
        for (const svc of s.services) this.byService.get(svc)!.push(s);
      }
    }
  }

  visit(b: DecisionBuilder, service: string): void {
    const list = this.byService.get(service) ?? this.any;
    for (let i = 0; i < list.length; i++) b.consider(list[i]!);
  }
}

interface PrincipalEntry {
  /** What the entry was computed from. */
  readonly input: AccessModelPrincipal;
  readonly identity: StatementIndex;
  readonly boundary: StatementIndex | undefined;
  readonly groups: ReadonlySet<string>;
}

const EMPTY_SET: ReadonlySet<string> = new Set();

/** The groups the model knows the requester and the identities it answers to belong to. */
function memberships(
  entry: PrincipalEntry | undefined,
  others: PrincipalEntry[] | undefined,
): ReadonlySet<string> {
  const own = entry?.groups ?? EMPTY_SET;
  if (!others) return own;
  let union: Set<string> | undefined;
  for (const e of others) {
    if (e.groups.size === 0) continue;
    union ??= new Set(own);
    for (const g of e.groups) union.add(g);
  }
  return union ?? own;
}

/** Splits `service:Name` once per distinct action string (requests reuse a few actions). */
class ActionKeys {
  private readonly cache = new Map<string, { lower: string; service: string }>();

  get(action: string): { lower: string; service: string } {
    let hit = this.cache.get(action);
    if (hit === undefined) {
      const lower = action.toLowerCase();
      const colon = lower.indexOf(':');
      hit = { lower, service: colon < 0 ? lower : lower.slice(0, colon) };
      // Bounded, so a stream of made-up action names can't grow it without limit.
      if (this.cache.size >= 4096) this.cache.clear();
      this.cache.set(action, hit);
    }
    return hit;
  }
}

/**
 * An immutable, indexed snapshot of everything that decides access: principals and their
 * groups, identity policies and their attachments, permissions boundaries, resource policies,
 * role definitions with role assignments, and deny assignments. Build it once per change of
 * the underlying data; `authorize` then costs only the statements that can apply to the
 * requester and the resource (per-principal lists precomputed, indexed by action service),
 * however many policies exist in total.
 *
 * @example
 * const read = compilePolicy(parsePolicyOrThrow(doc, { kind: 'identity' }), { id: 'read', kind: 'identity' });
 * const model = AccessModel.build({
 *   policies: [read],
 *   groups: [{ arn: 'arn:aws:iam::111122223333:group/ml', policies: ['read'] }],
 *   principals: [{ arn: 'arn:aws:iam::111122223333:user/alice', groups: ['arn:aws:iam::111122223333:group/ml'] }],
 *   roleDefinitions: [{ id: 'reader', actions: ['ml:Get*'] }],
 *   roleAssignments: [{ id: 'ra1', principalArn: 'arn:aws:iam::111122223333:user/alice', roleDefinition: 'reader',
 *                       scope: 'arn:aiam:ml::111122223333:workspace/ws/model/m' }],
 * });
 * const decision = model.authorize({
 *   principal: { arn: 'arn:aws:iam::111122223333:user/alice', account: '111122223333' },
 *   action: 's3:GetObject',
 *   resource: 'arn:aws:s3:::training-data/a.csv',
 *   context: createRequestContext({ 'aws:username': 'alice' }),
 * });
 * // decision.decision: 'allowed' | 'explicitDeny' | 'implicitDeny'
 */
export class AccessModel {
  private readonly principals: ReadonlyMap<string, PrincipalEntry>;
  private readonly groups: ReadonlyMap<string, StatementIndex>;
  private readonly resourceIndex: ReadonlyMap<string, StatementIndex>;
  /** Distinct lengths of resource-policy keys, longest first. */
  private readonly resourceKeyLengths: readonly number[];
  private readonly denyEveryone: StatementIndex | undefined;
  private readonly denyByPrincipal: ReadonlyMap<string, StatementIndex>;
  private readonly actions: ActionKeys;
  /** Everything the model holds, kept whole so `withPrincipals` can derive a model from it. */
  private readonly state: ModelState;
  /** Number of policies, role assignments and deny assignments in the model. */
  readonly size: { policies: number; roleAssignments: number; denyAssignments: number };

  private constructor(state: ModelState) {
    this.state = state;
    this.principals = state.principals;
    this.groups = state.groups;
    this.resourceIndex = state.resourceIndex;
    this.resourceKeyLengths = state.resourceKeyLengths;
    this.denyEveryone = state.denyEveryone;
    this.denyByPrincipal = state.denyByPrincipal;
    this.actions = state.actions;
    this.size = state.size;
  }

  /**
   * Builds the snapshot. Throws `AccessModelError` for a reference to an undefined policy or
   * role, and `InvalidRoleAssignmentError` for an assignment outside its role's scopes.
   */
  static build(input: AccessModelInput): AccessModel {
    return new AccessModel(buildState(input));
  }

  /**
   * The principal as the model was given it (groups, attached policy ids, boundary), or
   * undefined for one the model does not list.
   */
  principal(arn: string): AccessModelPrincipal | undefined {
    return this.principals.get(arn)?.input;
  }

  /**
   * A model that decides as one built from this model's input with the principals of `remove`
   * left out, together with the role assignments naming them, and then those of `set` added or
   * replaced. Everything else is shared with this model, which does not change: deriving costs
   * a copy of the principal map and the entries of `set`, not a rebuild (one user joining a
   * group in a large account). `set` may refer only to policies this model contains, else
   * `AccessModelError`.
   */
  withPrincipals(change: {
    readonly remove?: readonly string[];
    readonly set?: readonly AccessModelPrincipal[];
  }): AccessModel {
    const principals = new Map(this.state.principals);
    let assignments = this.state.assignmentsByPrincipal;
    for (const arn of change.remove ?? []) {
      principals.delete(arn);
      if (assignments.has(arn)) {
        const copy = new Map(assignments);
        copy.delete(arn);
        assignments = copy;
      }
    }
    const next: ModelState = { ...this.state, principals, assignmentsByPrincipal: assignments };
    for (const p of change.set ?? []) principals.set(p.arn, principalEntry(p, next));
    return new AccessModel(next);
  }

  /**
   * Decides one request with AWS's evaluation logic (see `evaluatePolicies`): deny assignments
   * and Deny statements anywhere win; identity policies and role assignments of the principal,
   * of the roles it acts as (`identityArns`) and of its groups grant, capped by its permissions
   * boundary and by `sessionPolicies`; resource policies at or above the resource grant as
   * AWS's same-account rules say.
   */
  authorize(request: AuthorizationRequest, options?: AuthorizeOptions): Decision {
    const key = this.actions.get(request.action);
    const service = key.service;
    const b = new DecisionBuilder(request, key.lower);
    const principal = request.principal;

    const entry = this.principals.get(principal.arn);
    // The identities the requester answers to besides its own ARN (a role session: its role).
    // Each brings everything attached to it: policies, group memberships (for group role
    // assignments and deny assignments) and its permissions boundary.
    let others: PrincipalEntry[] | undefined;
    const otherArns = principal.identityArns;
    if (otherArns) {
      for (let i = 0; i < otherArns.length; i++) {
        const e = this.principals.get(otherArns[i]!);
        if (e !== undefined && e !== entry) {
          others ??= [];
          if (!others.includes(e)) others.push(e);
        }
      }
    }
    const known = memberships(entry, others);
    if (known.size > 0) b.groups = known;

    if (this.denyEveryone) this.denyEveryone.visit(b, service);
    if (this.denyByPrincipal.size > 0) this.visitDenies(b, service, known);

    if (entry) entry.identity.visit(b, service);
    if (others) for (const e of others) e.identity.visit(b, service);
    const groups = principal.groupArns;
    if (groups) {
      for (let i = 0; i < groups.length; i++) {
        const g = groups[i]!;
        if (known.has(g)) continue;
        this.groups.get(g)?.visit(b, service);
      }
    }

    const implicit = options?.identityPolicies;
    if (implicit) for (let i = 0; i < implicit.length; i++) b.considerPolicy(implicit[i]!);

    if (this.resourceKeyLengths.length > 0) this.visitResourcePolicies(b, service, request.resource);

    // Every reachable boundary must allow. An IAM entity has at most one, and a role session
    // has its role's; should a principal reach several (its own and a role's), the fail-safe
    // reading is their intersection, never just the first.
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
    if (entry?.boundary) {
      b.beginBoundary();
      entry.boundary.visit(b, service);
    }
    if (others) {
      for (const e of others) {
        if (!e.boundary || e.boundary === entry?.boundary) continue;
        b.beginBoundary();
        e.boundary.visit(b, service);
      }
    }
    const session = options?.sessionPolicies;
    if (session) {
      b.hasSession = true;
      for (let i = 0; i < session.length; i++) b.considerPolicy(session[i]!);
    }
    return b.finish();
  }

  private visitDenies(b: DecisionBuilder, service: string, known: ReadonlySet<string>): void {
    const p = b.request.principal;
    this.denyByPrincipal.get(p.arn)?.visit(b, service);
    if (p.identityArns) for (const a of p.identityArns) this.denyByPrincipal.get(a)?.visit(b, service);
    for (const g of known) this.denyByPrincipal.get(g)?.visit(b, service);
    if (p.groupArns)
      for (const g of p.groupArns) if (!known.has(g)) this.denyByPrincipal.get(g)?.visit(b, service);
  }

  /** Visits the policies attached at every ancestor of `resource` (whole path segments). */
  private visitResourcePolicies(b: DecisionBuilder, service: string, resource: string): void {
    for (const len of this.resourceKeyLengths) {
      if (len > resource.length) continue;
      if (len < resource.length) {
        const next = resource.charCodeAt(len);
        const last = resource.charCodeAt(len - 1);
        // scopeContains: a key covers deeper resources at a "/" boundary, or when it ends in "/" or ":".
        if (next !== 0x2f && last !== 0x2f && last !== 0x3a) continue;
      }
      this.resourceIndex.get(len === resource.length ? resource : resource.slice(0, len))?.visit(b, service);
    }
  }
}

/** What an `AccessModel` holds; derived models share all of it but their principals. */
interface ModelState {
  readonly policies: ReadonlyMap<string, CompiledPolicy>;
  /** Policy ids attached to each group. */
  readonly groupPolicies: ReadonlyMap<string, readonly string[]>;
  /** Compiled role assignments by the principal or group ARN they name. */
  readonly assignmentsByPrincipal: ReadonlyMap<string, readonly CompiledStatement[]>;
  readonly principals: ReadonlyMap<string, PrincipalEntry>;
  readonly groups: ReadonlyMap<string, StatementIndex>;
  readonly resourceIndex: ReadonlyMap<string, StatementIndex>;
  readonly resourceKeyLengths: readonly number[];
  readonly denyEveryone: StatementIndex | undefined;
  readonly denyByPrincipal: ReadonlyMap<string, StatementIndex>;
  readonly actions: ActionKeys;
  readonly size: { policies: number; roleAssignments: number; denyAssignments: number };
}

function policyOf(state: Pick<ModelState, 'policies'>, id: string, owner: string): CompiledPolicy {
  const p = state.policies.get(id);
  if (!p) throw new AccessModelError(`${owner} refers to policy "${id}", which the model does not contain.`);
  return p;
}

function statementsOf(
  state: Pick<ModelState, 'policies'>,
  ids: Iterable<string>,
  owner: string,
): CompiledStatement[] {
  const out: CompiledStatement[] = [];
  for (const id of ids) out.push(...policyOf(state, id, owner).statements);
  return out;
}

/**
 * A principal's precomputed entry: its own policies, those of its groups, the role assignments
 * naming it or its groups (one statement list, indexed), and its boundary.
 */
function principalEntry(
  p: AccessModelPrincipal,
  state: Pick<ModelState, 'policies' | 'groupPolicies' | 'assignmentsByPrincipal'>,
): PrincipalEntry {
  const ids = new Set(p.policies ?? []);
  const groupSet = new Set(p.groups ?? []);
  for (const g of groupSet) for (const id of state.groupPolicies.get(g) ?? []) ids.add(id);
  const stmts = statementsOf(state, ids, `Principal ${p.arn}`);
  stmts.push(...(state.assignmentsByPrincipal.get(p.arn) ?? []));
  for (const g of groupSet) stmts.push(...(state.assignmentsByPrincipal.get(g) ?? []));
  const boundary =
    p.permissionsBoundary === undefined
      ? undefined
      : new StatementIndex(
          policyOf(state, p.permissionsBoundary, `Principal ${p.arn} (boundary)`).statements,
        );
  return {
    input: p,
    identity: new StatementIndex(stmts),
    boundary,
    groups: groupSet.size ? groupSet : EMPTY_SET,
  };
}

function buildState(input: AccessModelInput): ModelState {
  const policies = new Map<string, CompiledPolicy>();
  for (const p of input.policies ?? []) {
    if (policies.has(p.id))
      throw new AccessModelError(`Two policies have the id "${p.id}"; ids must be unique.`);
    policies.set(p.id, p);
  }

  const roleDefs = new Map<string, CompiledRoleDefinition>();
  for (const def of input.roleDefinitions ?? []) {
    const compiled = compileRoleDefinition(def);
    roleDefs.set(def.id, compiled);
    if (def.name !== undefined && !roleDefs.has(def.name)) roleDefs.set(def.name, compiled);
  }
  const options = input.isDataAction ? { isDataAction: input.isDataAction } : {};
  const assignmentsByPrincipal = new Map<string, CompiledStatement[]>();
  for (const a of input.roleAssignments ?? []) {
    const def = roleDefs.get(a.roleDefinition);
    if (!def)
      throw new AccessModelError(
        `Role assignment ${a.id} refers to role "${a.roleDefinition}", which is not defined.`,
      );
    const list = assignmentsByPrincipal.get(a.principalArn) ?? [];
    list.push(compileRoleAssignment(a, def, options));
    assignmentsByPrincipal.set(a.principalArn, list);
  }

  const groupPolicies = new Map<string, readonly string[]>();
  for (const g of input.groups ?? []) groupPolicies.set(g.arn, g.policies ?? []);
  const parts = { policies, groupPolicies, assignmentsByPrincipal };
  const groups = new Map<string, StatementIndex>();
  for (const g of new Set([...groupPolicies.keys(), ...assignmentsByPrincipal.keys()])) {
    const stmts = [
      ...statementsOf(parts, groupPolicies.get(g) ?? [], `Group ${g}`),
      ...(assignmentsByPrincipal.get(g) ?? []),
    ];
    groups.set(g, new StatementIndex(stmts));
  }

  const principals = new Map<string, PrincipalEntry>();
  for (const p of input.principals ?? []) principals.set(p.arn, principalEntry(p, parts));
  // Assignments may name principals the input does not list (a role known only by its ARN,
  // a managed identity): they still apply when such a principal asks, or acts as that role.
  for (const [arn, stmts] of assignmentsByPrincipal) {
    if (principals.has(arn) || groupPolicies.has(arn)) continue;
    principals.set(arn, {
      input: { arn },
      identity: new StatementIndex(stmts),
      boundary: undefined,
      groups: EMPTY_SET,
    });
  }

  const byResource = new Map<string, CompiledStatement[]>();
  for (const r of input.resourcePolicies ?? []) {
    const p = policyOf(parts, r.policy, `Resource ${r.resource}`);
    const list = byResource.get(r.resource) ?? [];
    list.push(...p.statements);
    byResource.set(r.resource, list);
  }
  const resourceIndex = new Map<string, StatementIndex>();
  const lengths = new Set<number>();
  for (const [resource, stmts] of byResource) {
    resourceIndex.set(resource, new StatementIndex(stmts));
    lengths.add(resource.length);
  }

  const everyone: CompiledStatement[] = [];
  const denyBy = new Map<string, CompiledStatement[]>();
  for (const d of input.denyAssignments ?? []) {
    const compiled = compileDenyAssignment(d, options);
    if (d.principals.includes('*')) everyone.push(compiled);
    else {
      for (const arn of new Set(d.principals)) {
        const list = denyBy.get(arn) ?? [];
        list.push(compiled);
        denyBy.set(arn, list);
      }
    }
  }
  const denyByPrincipal = new Map<string, StatementIndex>();
  for (const [arn, list] of denyBy) denyByPrincipal.set(arn, new StatementIndex(list));
  return {
    ...parts,
    principals,
    groups,
    resourceIndex,
    resourceKeyLengths: [...lengths].sort((a, b) => b - a),
    denyEveryone: everyone.length ? new StatementIndex(everyone) : undefined,
    denyByPrincipal,
    actions: new ActionKeys(),
    size: {
      policies: policies.size,
      roleAssignments: input.roleAssignments?.length ?? 0,
      denyAssignments: input.denyAssignments?.length ?? 0,
    },
  };
}
