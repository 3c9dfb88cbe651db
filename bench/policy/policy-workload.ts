import { SeededRandom } from '../harness.js';

/**
 * The policy bench's workload in engine-neutral form: who is in which group, which access rules
 * exist, and which requests are asked. `aiam-engine.ts`, `cedar-engine.ts` and
 * `casbin-engine.ts` each express the same rules in their engine's own terms, so that all three
 * decide the same question.
 *
 * Shape (as issue 2 asks): one principal under test ("alice") in three groups, with two role
 * assignments (one to her, one to a group of hers); ML resources in a workspace > model >
 * version hierarchy; one kind of condition (the request's source network); and a total of
 * 10, 100 or 1,000 rules, exactly one of them a deny, of which only the same 8 apply to alice
 * whatever the total. The rest are spread over many other users and groups.
 */

/** The account every principal and resource belongs to (same-account evaluation). */
export const ACCOUNT = '111122223333';

/** A point in the hierarchy: a workspace, a model in it, or a version of that model. */
export interface ResourcePath {
  readonly workspace: string;
  readonly model?: string;
  readonly version?: string;
}

/** Who a rule is for: a user or a group, by name. */
export interface Subject {
  readonly kind: 'user' | 'group';
  readonly name: string;
}

/** An Azure-style role: a named set of actions. */
export interface WorkloadRole {
  readonly name: string;
  /** Control-plane actions (Azure `actions`). */
  readonly actions: readonly string[];
  /** Data-plane actions (Azure `dataActions`). */
  readonly dataActions: readonly string[];
}

/**
 * One access rule. `form` says how aiam expresses it: an IAM identity policy attached to the
 * subject, or a role assignment of `role` at `scope`. Cedar and casbin see the same
 * (subject, actions, scope, condition, effect) whatever the form.
 */
export interface WorkloadRule {
  readonly id: string;
  readonly form: 'iam-policy' | 'role-assignment';
  readonly effect: 'Allow' | 'Deny';
  readonly subject: Subject;
  /** The actions it covers (for a role assignment, the role's actions and data actions). */
  readonly actions: readonly string[];
  /** For `role-assignment`: the role's name. */
  readonly role?: string;
  /** The rule covers this resource and everything below it. */
  readonly scope: ResourcePath;
  /** The one condition: the request must come from this IPv4 network. */
  readonly sourceCidr?: string;
}

/** A user and the groups it is in. */
export interface WorkloadUser {
  readonly name: string;
  readonly groups: readonly string[];
}

/** Everything the engines are built from. */
export interface Workload {
  readonly users: readonly WorkloadUser[];
  readonly groups: readonly string[];
  readonly roles: readonly WorkloadRole[];
  readonly rules: readonly WorkloadRule[];
  /** Every resource of the hierarchy, at every level. */
  readonly resources: readonly ResourcePath[];
  /** The name of the principal under test. */
  readonly principal: string;
}

/** One question: may `user` do `action` on `resource` from `sourceIp`? */
export interface WorkloadRequest {
  readonly user: string;
  readonly action: string;
  readonly resource: ResourcePath;
  readonly sourceIp: string;
}

/** The actions rules and requests use (aiam's catalog names; DownloadModelVersion is a data action). */
export const ACTIONS = [
  'ml:GetModel',
  'ml:GetModelVersion',
  'ml:UpdateModel',
  'ml:UpdateModelVersion',
  'ml:DeleteModelVersion',
  'ml:DownloadModelVersion',
] as const;

/** The network of the condition; requests come from inside it or from 192.168.0.0/16. */
export const TRUSTED_CIDR = '10.0.0.0/8';

const ROLES: readonly WorkloadRole[] = [
  {
    name: 'ModelReader',
    actions: ['ml:GetModel', 'ml:GetModelVersion'],
    dataActions: ['ml:DownloadModelVersion'],
  },
  {
    name: 'ModelContributor',
    actions: ['ml:GetModel', 'ml:GetModelVersion', 'ml:UpdateModel', 'ml:UpdateModelVersion'],
    dataActions: ['ml:DownloadModelVersion'],
  },
];

const WORKSPACES = 20;
const MODELS_PER_WORKSPACE = 8;
const VERSIONS_PER_MODEL = 4;
const PRINCIPAL = 'alice';
const PRINCIPAL_GROUPS = ['ml-research', 'ml-platform', 'model-readers'] as const;

const ws = (w: number): string => `ws-${w}`;
const model = (m: number): string => `m-${m}`;
const version = (v: number): string => `v${v}`;

/** The rules that apply to the principal under test: the same 8 at every size, the deny included. */
function principalRules(): WorkloadRule[] {
  const alice: Subject = { kind: 'user', name: PRINCIPAL };
  const research: Subject = { kind: 'group', name: 'ml-research' };
  const platform: Subject = { kind: 'group', name: 'ml-platform' };
  const readers: Subject = { kind: 'group', name: 'model-readers' };
  const role = (name: string): WorkloadRole => ROLES.find((r) => r.name === name)!;
  const roleActions = (name: string): string[] => [...role(name).actions, ...role(name).dataActions];
  return [
    {
      id: 'alice-read-ws0',
      form: 'iam-policy',
      effect: 'Allow',
      subject: alice,
      actions: ['ml:GetModel', 'ml:GetModelVersion', 'ml:DownloadModelVersion'],
      scope: { workspace: ws(0) },
      sourceCidr: TRUSTED_CIDR,
    },
    {
      id: 'alice-update-ws1-m2',
      form: 'iam-policy',
      effect: 'Allow',
      subject: alice,
      actions: ['ml:UpdateModel', 'ml:UpdateModelVersion'],
      scope: { workspace: ws(1), model: model(2) },
    },
    {
      id: 'research-read-ws2',
      form: 'iam-policy',
      effect: 'Allow',
      subject: research,
      actions: ['ml:GetModel', 'ml:GetModelVersion'],
      scope: { workspace: ws(2) },
    },
    {
      id: 'platform-manage-ws0-m1',
      form: 'iam-policy',
      effect: 'Allow',
      subject: platform,
      actions: ['ml:UpdateModelVersion', 'ml:DeleteModelVersion', 'ml:DownloadModelVersion'],
      scope: { workspace: ws(0), model: model(1) },
      sourceCidr: TRUSTED_CIDR,
    },
    {
      id: 'readers-download-ws3-m0-v1',
      form: 'iam-policy',
      effect: 'Allow',
      subject: readers,
      actions: ['ml:GetModelVersion', 'ml:DownloadModelVersion'],
      scope: { workspace: ws(3), model: model(0), version: version(1) },
    },
    {
      id: 'ra-alice-contributor-ws0-m0',
      form: 'role-assignment',
      effect: 'Allow',
      subject: alice,
      role: 'ModelContributor',
      actions: roleActions('ModelContributor'),
      scope: { workspace: ws(0), model: model(0) },
    },
    {
      id: 'ra-research-reader-ws4',
      form: 'role-assignment',
      effect: 'Allow',
      subject: research,
      role: 'ModelReader',
      actions: roleActions('ModelReader'),
      scope: { workspace: ws(4) },
    },
    {
      // The one deny of the system: it overlaps the grants above (platform-manage-ws0-m1 and
      // alice-read-ws0), so deny-wins is exercised, not just absence of an allow.
      id: 'deny-platform-ws0-m1-v0',
      form: 'iam-policy',
      effect: 'Deny',
      subject: platform,
      actions: ['ml:DeleteModelVersion', 'ml:DownloadModelVersion'],
      scope: { workspace: ws(0), model: model(1), version: version(0) },
    },
  ];
}

/** Every resource of the hierarchy: workspaces, their models, and the models' versions. */
function allResources(): ResourcePath[] {
  const out: ResourcePath[] = [];
  for (let w = 0; w < WORKSPACES; w++) {
    out.push({ workspace: ws(w) });
    for (let m = 0; m < MODELS_PER_WORKSPACE; m++) {
      out.push({ workspace: ws(w), model: model(m) });
      for (let v = 0; v < VERSIONS_PER_MODEL; v++)
        out.push({ workspace: ws(w), model: model(m), version: version(v) });
    }
  }
  return out;
}

function randomScope(rng: SeededRandom): ResourcePath {
  const w = ws(rng.int(WORKSPACES));
  const depth = rng.int(3);
  if (depth === 0) return { workspace: w };
  const m = model(rng.int(MODELS_PER_WORKSPACE));
  if (depth === 1) return { workspace: w, model: m };
  return { workspace: w, model: m, version: version(rng.int(VERSIONS_PER_MODEL)) };
}

/**
 * Builds the workload with `totalRules` rules (at least 8: the principal's own). Deterministic:
 * the same seed and size give the same workload. The other users and groups grow with the size
 * (about one user per two rules and one group per ten), so rules stay spread thin.
 */
export function generateWorkload(totalRules: number, seed: number): Workload {
  const own = principalRules();
  if (totalRules < own.length) throw new RangeError(`the workload needs at least ${own.length} rules`);
  const rng = new SeededRandom(seed ^ Math.imul(totalRules, 0x9e3779b1));
  const groupCount = Math.max(4, Math.ceil(totalRules / 10));
  const userCount = Math.max(8, Math.ceil(totalRules / 2));
  const otherGroups = Array.from({ length: groupCount }, (_, i) => `team-${i}`);
  const users: WorkloadUser[] = [{ name: PRINCIPAL, groups: [...PRINCIPAL_GROUPS] }];
  for (let i = 0; i < userCount; i++) {
    users.push({ name: `user-${i}`, groups: rng.sample(otherGroups, 1 + rng.int(3)) });
  }
  const rules: WorkloadRule[] = [...own];
  for (let i = rules.length; i < totalRules; i++) {
    const subject: Subject = rng.chance(0.6)
      ? { kind: 'user', name: users[1 + rng.int(userCount)]!.name }
      : { kind: 'group', name: rng.pick(otherGroups) };
    const scope = randomScope(rng);
    if (rng.chance(0.3)) {
      const role = rng.pick(ROLES);
      rules.push({
        id: `ra-${i}`,
        form: 'role-assignment',
        effect: 'Allow',
        subject,
        role: role.name,
        actions: [...role.actions, ...role.dataActions],
        scope,
      });
    } else {
      rules.push({
        id: `policy-${i}`,
        form: 'iam-policy',
        effect: 'Allow',
        subject,
        actions: rng.sample(ACTIONS, 1 + rng.int(3)),
        scope,
        ...(rng.chance(0.3) ? { sourceCidr: TRUSTED_CIDR } : {}),
      });
    }
  }
  return {
    users,
    groups: [...PRINCIPAL_GROUPS, ...otherGroups],
    roles: ROLES,
    rules,
    resources: allResources(),
    principal: PRINCIPAL,
  };
}

function within(scope: ResourcePath, rng: SeededRandom): ResourcePath {
  const m = scope.model ?? (rng.chance(0.8) ? model(rng.int(MODELS_PER_WORKSPACE)) : undefined);
  if (m === undefined) return { workspace: scope.workspace };
  const v = scope.version ?? (rng.chance(0.6) ? version(rng.int(VERSIONS_PER_MODEL)) : undefined);
  return v === undefined
    ? { workspace: scope.workspace, model: m }
    : { workspace: scope.workspace, model: m, version: v };
}

/**
 * Generates `count` requests of `user` (or, with `user` omitted, of the principal under test
 * half the time and of a random other user otherwise). Most requests fall inside a scope some
 * rule of the requester covers, so allows, explicit denies and implicit denies all occur.
 */
export function generateRequests(
  workload: Workload,
  count: number,
  seed: number,
  user?: string,
): WorkloadRequest[] {
  const rng = new SeededRandom(seed);
  const byUser = new Map(workload.users.map((u) => [u.name, u]));
  const out: WorkloadRequest[] = [];
  for (let i = 0; i < count; i++) {
    const name =
      user ??
      (rng.chance(0.5) ? workload.principal : workload.users[1 + rng.int(workload.users.length - 1)]!.name);
    const member = byUser.get(name);
    if (!member) throw new RangeError(`no user ${name} in the workload`);
    const mine = workload.rules.filter(
      (r) =>
        (r.subject.kind === 'user' && r.subject.name === name) ||
        (r.subject.kind === 'group' && member.groups.includes(r.subject.name)),
    );
    // Aim most requests at a rule of the requester (its scope, and half the time one of its
    // actions), so that allows and the deny occur often; the rest are anywhere.
    const aimed = mine.length > 0 && rng.chance(0.7) ? rng.pick(mine) : undefined;
    const resource = aimed ? within(aimed.scope, rng) : rng.pick(workload.resources);
    const action = aimed && rng.chance(0.5) ? rng.pick(aimed.actions) : rng.pick(ACTIONS);
    const sourceIp = rng.chance(0.7)
      ? `10.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`
      : `192.168.${rng.int(256)}.${1 + rng.int(254)}`;
    out.push({ user: name, action, resource, sourceIp });
  }
  return out;
}

/** The path of a resource below the account: `workspace/ws-0/model/m-1/version/v2`. */
export function resourcePath(r: ResourcePath): string {
  let path = `workspace/${r.workspace}`;
  if (r.model !== undefined) path += `/model/${r.model}`;
  if (r.version !== undefined) path += `/version/${r.version}`;
  return path;
}

/** The resource and its ancestors, the resource first. */
export function resourceLineage(r: ResourcePath): ResourcePath[] {
  const out: ResourcePath[] = [r];
  if (r.version !== undefined) out.push({ workspace: r.workspace, model: r.model! });
  if (r.model !== undefined) out.push({ workspace: r.workspace });
  return out;
}
