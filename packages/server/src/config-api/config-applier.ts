import { randomUUID } from 'node:crypto';
import {
  findBuiltInRole,
  iamArn,
  managedIdentityArn,
  matchActions,
  resolveResourcePath,
  scopeContains,
} from '@aiam/policy';
import { InputError, NotFoundError } from '../errors.js';
import {
  generateAccessKeyId,
  generateSecretAccessKey,
  type RandomSource,
  secureRandom,
} from '../identity/credential-ids.js';
import type { Keyring } from '../identity/keyring.js';
import { assertValidBucketName } from '../s3/bucket-name.js';
import { accessKeySecretContext, identityNameFor } from '../services/iam-service.js';
import { checkPolicyDocument, type PolicyDocumentInput } from '../services/policy-documents.js';
import { hasSystemIdentity } from '../store/ml-registry-operations.js';
import type { IdentityType, ResourceIdentity } from '../store/ml-registry-types.js';
import type { StoreTransaction } from '../store/store.js';
import type { Tags } from '../store/store-types.js';
import { MARKER } from './config-state.js';

/** The kinds of resource an apply manages (the planner's `ResourceKind`s this server applies). */
export const APPLIED_KINDS = [
  'bucket',
  'policy',
  'identity',
  'group',
  'role',
  'user',
  'accessKey',
  'workspace',
  'model',
  'modelVersion',
  'endpoint',
  'deployment',
  'domain',
  'userProfile',
  'roleDefinition',
  'roleAssignment',
  'scimGroupMapping',
] as const;

/** One change of a plan, as the CLI sends it. */
export interface ConfigChange {
  readonly action: 'create' | 'update' | 'replace' | 'delete';
  readonly kind: (typeof APPLIED_KINDS)[number];
  /** The planner's address (`workspaces.ws.models.m`), for messages and markers. */
  readonly address: string;
  /** The names from the outermost resource in: `['ws', 'm', '1']` for a model version. */
  readonly names: readonly string[];
  /** The resource's fields as the file declares them (create, update, replace) or as they were (delete). */
  readonly value: Readonly<Record<string, unknown>>;
}

/** One permission an apply needs: the caller must be allowed `action` on `resource`. */
export interface RequiredPermission {
  readonly action: string;
  readonly resource: string;
  readonly conditions?: Readonly<Record<string, string>>;
}

/** A secret created by an apply, keyed by where it belongs in the file. */
export interface CreatedSecret {
  readonly address: string;
  /** Where it goes in a secrets file keyed like the config: `['users', 'u', 'accessKeys', 'k']`. */
  readonly path: readonly string[];
  readonly value: Readonly<Record<string, string>>;
}

type V = Readonly<Record<string, unknown>>;

const str = (v: V, k: string): string | undefined =>
  typeof v[k] === 'string' ? (v[k] as string) : undefined;
const list = (v: V, k: string): string[] =>
  Array.isArray(v[k]) ? (v[k] as unknown[]).filter((x): x is string => typeof x === 'string') : [];
const tags = (v: V): Tags => (v.tags && typeof v.tags === 'object' ? (v.tags as Tags) : {});
const record = (v: V, k: string): Record<string, unknown> =>
  v[k] && typeof v[k] === 'object' && !Array.isArray(v[k]) ? (v[k] as Record<string, unknown>) : {};
const same = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));

/**
 * The `identity` of a workspace or endpoint as the store records it: the file says
 * `systemAssigned: true` and/or lists `userAssigned` names, Azure's `identity.type` combines them.
 */
function resourceIdentity(identity: V): ResourceIdentity {
  const userAssigned = list(identity, 'userAssigned');
  const system = identity.systemAssigned === true;
  const type: IdentityType =
    userAssigned.length > 0
      ? system
        ? 'SystemAssigned,UserAssigned'
        : 'UserAssigned'
      : system
        ? 'SystemAssigned'
        : 'None';
  return { type, userAssigned };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  return value;
}

function grantsOf(v: V): { role: string; scope: string }[] {
  const grants = Array.isArray(v.grants) ? (v.grants as unknown[]) : [];
  return grants
    .filter((g): g is Record<string, unknown> => typeof g === 'object' && g !== null)
    .map((g) => ({ role: String(g.role ?? ''), scope: String(g.scope ?? '') }));
}

function permissionsOf(v: V, address: string) {
  const out = {
    actions: list(v, 'actions'),
    notActions: list(v, 'notActions'),
    dataActions: list(v, 'dataActions'),
    notDataActions: list(v, 'notDataActions'),
  };
  // Every pattern must name a catalogued action, so a typo is refused instead of granting nothing.
  for (const [field, patterns] of Object.entries(out))
    for (const p of patterns)
      if (matchActions(p).length === 0)
        throw new InputError(
          `${address}.${field}: "${p}" matches no catalogued action (see docs/actions.md)`,
        );
  if (out.actions.length + out.dataActions.length === 0)
    throw new InputError(`${address}: a role definition needs at least one entry in actions or dataActions`);
  return out;
}

function name(change: ConfigChange, index: number): string {
  const n = change.names[index];
  if (typeof n !== 'string' || n === '')
    throw new InputError(`change ${change.address}: names[${index}] is missing`);
  return n;
}

/**
 * The permissions each change needs, decided one by one before anything is written: a caller
 * who may create users but not attach policies gets nothing applied (deny by default, and no
 * side door: applying a file is the same set of decisions as making the calls by hand).
 */
export function requiredPermissions(change: ConfigChange, accountId: string): RequiredPermission[] {
  // A replace deletes then creates: it needs both.
  if (change.action === 'replace')
    return [
      ...requiredPermissions({ ...change, action: 'delete' }, accountId),
      ...requiredPermissions({ ...change, action: 'create' }, accountId),
    ];
  const op = change.action === 'create' ? 'Create' : change.action === 'delete' ? 'Delete' : 'Update';
  const v = change.value;
  const n0 = () => name(change, 0);
  const policyArn = (p: string) => (p.startsWith('arn:') ? p : iamArn(accountId, 'policy', p));
  const out: RequiredPermission[] = [];
  const principalExtras = (kind: 'User' | 'Group' | 'Role', arn: string) => {
    if (change.action === 'delete') return;
    for (const p of list(v, 'policies'))
      out.push({
        action: `iam:Attach${kind}Policy`,
        resource: arn,
        conditions: { 'iam:PolicyARN': policyArn(p) },
      });
    if (Object.keys(record(v, 'inlinePolicies')).length)
      out.push({ action: `iam:Put${kind}Policy`, resource: arn });
    if (kind !== 'Group' && str(v, 'permissionsBoundary'))
      out.push({
        action: `iam:Put${kind}PermissionsBoundary`,
        resource: arn,
        conditions: { 'iam:PermissionsBoundary': policyArn(str(v, 'permissionsBoundary')!) },
      });
  };
  const ml = (path: string) => resolveResourcePath(accountId, path);
  switch (change.kind) {
    case 'bucket': {
      const arn = `arn:aws:s3:::${n0()}`;
      if (change.action === 'delete') return [{ action: 's3:DeleteBucket', resource: arn }];
      if (change.action === 'create') out.push({ action: 's3:CreateBucket', resource: arn });
      out.push({ action: 's3:PutBucketTagging', resource: arn });
      if (v.policy || change.action !== 'create') out.push({ action: 's3:PutBucketPolicy', resource: arn });
      return out;
    }
    case 'policy': {
      const arn = iamArn(accountId, 'policy', n0(), str(v, 'path') ?? '/');
      if (change.action === 'update') return [{ action: 'iam:CreatePolicyVersion', resource: arn }];
      return [{ action: `iam:${op}Policy`, resource: arn }];
    }
    case 'user':
    case 'group':
    case 'role': {
      const kind = change.kind === 'user' ? 'User' : change.kind === 'group' ? 'Group' : 'Role';
      const arn = iamArn(accountId, change.kind, n0(), str(v, 'path') ?? '/');
      out.push({ action: `iam:${op}${kind}`, resource: arn });
      if (change.kind === 'role' && change.action === 'update')
        out.push({ action: 'iam:UpdateAssumeRolePolicy', resource: arn });
      principalExtras(kind, arn);
      if (change.kind === 'user' && change.action !== 'delete')
        for (const g of list(v, 'groups'))
          out.push({ action: 'iam:AddUserToGroup', resource: iamArn(accountId, 'group', g) });
      return out;
    }
    case 'identity':
      out.push({ action: `iam:${op}ManagedIdentity`, resource: managedIdentityArn(accountId, n0()) });
      return out;
    case 'accessKey': {
      const user = iamArn(accountId, 'user', n0());
      return [{ action: `iam:${op}AccessKey`, resource: user }];
    }
    case 'workspace':
      return [{ action: `ml:${op}Workspace`, resource: ml(`workspace/${n0()}`) }];
    case 'model':
      return [{ action: `ml:${op}Model`, resource: ml(`workspace/${n0()}/model/${name(change, 1)}`) }];
    case 'modelVersion':
      return [
        {
          action: `ml:${op}ModelVersion`,
          resource: ml(`workspace/${n0()}/model/${name(change, 1)}/version/${name(change, 2)}`),
        },
      ];
    case 'endpoint':
      return [{ action: `ml:${op}Endpoint`, resource: ml(`workspace/${n0()}/endpoint/${name(change, 1)}`) }];
    case 'deployment':
      return [
        {
          action: `ml:${op}Deployment`,
          resource: ml(`workspace/${n0()}/endpoint/${name(change, 1)}/deployment/${name(change, 2)}`),
        },
      ];
    case 'domain':
      return [{ action: `ml:${op}Domain`, resource: ml(`domain/${n0()}`) }];
    case 'userProfile':
      return [
        { action: `ml:${op}UserProfile`, resource: ml(`domain/${n0()}/user-profile/${name(change, 1)}`) },
      ];
    case 'roleDefinition':
      return [
        { action: `iam:${op}RoleDefinition`, resource: `arn:aws:iam::${accountId}:role-definition/${n0()}` },
      ];
    case 'scimGroupMapping':
      // A mapping grants roles to the members of an IdP group: it needs what granting them needs.
      return grantsOf(v).map((g) => ({
        action: change.action === 'delete' ? 'iam:DeleteRoleAssignment' : 'iam:CreateRoleAssignment',
        resource: `arn:aws:iam::${accountId}:role-assignment/*`,
        conditions: { 'iam:RoleDefinitionName': g.role, 'iam:AssignmentScope': ml(g.scope) },
      }));
    case 'roleAssignment': {
      const role = str(v, 'role') ?? '';
      const scope = str(v, 'scope') ?? '';
      return [
        {
          action: change.action === 'delete' ? 'iam:DeleteRoleAssignment' : 'iam:CreateRoleAssignment',
          resource: `arn:aws:iam::${accountId}:role-assignment/*`,
          conditions: { 'iam:RoleDefinitionName': role, 'iam:AssignmentScope': ml(scope) },
        },
      ];
    }
    default:
      throw new InputError(
        `${change.address}: apply does not manage ${String(change.kind)} resources yet; remove them from the file or manage them through the API`,
      );
  }
}

/** What {@link ConfigApplier} needs. */
export interface ConfigApplierOptions {
  readonly accountId: string;
  readonly keyring: Keyring;
  /** The ARN recorded as the owner of buckets an apply creates (the caller). */
  readonly callerArn: string;
  readonly random?: RandomSource;
}

/**
 * Applies a plan's changes inside one store transaction (the caller's), in the order given:
 * every created resource is marked as made by config, so a later plan knows it may delete it
 * when the file drops it. Secrets made on the way (access keys) are returned, never stored in
 * clear (the key's secret is sealed under the keyring before the store sees it).
 */
export class ConfigApplier {
  readonly #tx: StoreTransaction;
  readonly #o: ConfigApplierOptions;
  readonly #random: RandomSource;
  readonly secrets: CreatedSecret[] = [];
  /** Endpoints created with `authMode: key`: their keys are issued once the transaction commits. */
  readonly keyedEndpoints: { address: string; workspace: string; endpoint: string }[] = [];

  constructor(tx: StoreTransaction, options: ConfigApplierOptions) {
    this.#tx = tx;
    this.#o = options;
    this.#random = options.random ?? secureRandom;
  }

  /** Applies one change. */
  async apply(change: ConfigChange): Promise<void> {
    if (change.action === 'replace') {
      await this.#delete({ ...change, action: 'delete' });
      await this.#upsert({ ...change, action: 'create' });
      return;
    }
    if (change.action === 'delete') await this.#delete(change);
    else await this.#upsert(change);
  }

  // ---- helpers ------------------------------------------------------------------------

  async #mark(address: string): Promise<void> {
    const key = MARKER.source(address);
    const current = await this.#tx.getSetting(key);
    if (current?.value !== 'config') await this.#tx.putSetting(key, 'config', current?.version ?? null);
  }

  async #unmark(key: string): Promise<void> {
    const current = await this.#tx.getSetting(key);
    if (current) await this.#tx.deleteSetting(key, current.version);
  }

  #doc(value: unknown, kind: 'identity' | 'trust' | 'resource', what: string): string {
    return checkPolicyDocument(value as PolicyDocumentInput, kind, what).text;
  }

  async #policyArn(nameOrArn: string): Promise<string> {
    if (nameOrArn.startsWith('arn:')) return nameOrArn;
    const p = await this.#tx.findPolicyByName(nameOrArn);
    if (!p) throw new NotFoundError(`managed policy "${nameOrArn}" does not exist`);
    return p.arn;
  }

  async #roleArn(nameOrArn: string): Promise<string> {
    if (nameOrArn.startsWith('arn:')) return nameOrArn;
    const r = await this.#tx.getRole(nameOrArn);
    if (!r) throw new NotFoundError(`role "${nameOrArn}" does not exist`);
    return r.arn;
  }

  /** Makes a principal's attached and inline policies what `v` declares. */
  async #convergePolicies(arn: string, v: V, label: string): Promise<void> {
    const want = new Set(await Promise.all(list(v, 'policies').map((p) => this.#policyArn(p))));
    const have = new Set((await this.#tx.listAttachedPolicies(arn)).map((a) => a.policyArn));
    for (const p of have) if (!want.has(p)) await this.#tx.detachPolicy(arn, p);
    for (const p of want) if (!have.has(p)) await this.#tx.attachPolicy(arn, p);
    const inline = record(v, 'inlinePolicies');
    const existing = new Map((await this.#tx.listInlinePolicies(arn)).map((i) => [i.name, i] as const));
    for (const [n, i] of existing)
      if (!Object.hasOwn(inline, n)) await this.#tx.deleteInlinePolicy(arn, i.name);
    for (const [n, doc] of Object.entries(inline)) {
      const text = this.#doc(doc, 'identity', `inline policy "${n}" of ${label}`);
      const before = existing.get(n);
      if (!before || !same(JSON.parse(before.document), JSON.parse(text)))
        await this.#tx.putInlinePolicy(arn, n, text, before ? before.version : null);
    }
  }

  async #systemIdentity(ownerArn: string, want: boolean): Promise<void> {
    const have = await this.#tx.getManagedIdentity({ ownerArn });
    if (want && !have)
      await this.#tx.createManagedIdentity({ name: identityNameFor(ownerArn), kind: 'system', ownerArn });
    if (!want && have) await this.#tx.deleteManagedIdentity(have.name, have.version);
  }

  async #resolvePrincipal(principal: string): Promise<string> {
    const tx = this.#tx;
    let arn: string | undefined;
    if (principal.startsWith('arn:')) arn = principal;
    else {
      const [root, ...rest] = principal.replace(/^\/+/, '').split('/');
      const n = rest.join('/');
      if (root === 'user') arn = (await tx.getUser(n))?.arn;
      else if (root === 'group') arn = (await tx.getGroup(n))?.arn;
      else if (root === 'role') arn = (await tx.getRole(n))?.arn;
      else if (root === 'managed-identity') arn = (await tx.getManagedIdentity(n))?.arn;
      else
        arn = (await tx.getManagedIdentity({ ownerArn: resolveResourcePath(this.#o.accountId, principal) }))
          ?.arn;
    }
    if (!arn || !(await tx.findPrincipalKind(arn)))
      throw new NotFoundError(`principal "${principal}" does not exist`);
    return arn;
  }

  async #roleDefinition(role: string) {
    const builtIn = findBuiltInRole(role);
    const stored = await this.#tx.getRoleDefinition(builtIn?.name ?? role);
    if (stored) return stored;
    if (!builtIn) throw new NotFoundError(`role definition "${role}" does not exist (built-in or custom)`);
    return this.#tx.createRoleDefinition({
      id: builtIn.name,
      name: builtIn.name,
      description: builtIn.description,
      permissions: {
        actions: [...builtIn.actions],
        notActions: [...builtIn.notActions],
        dataActions: [...builtIn.dataActions],
        notDataActions: [...builtIn.notDataActions],
      },
    });
  }

  // ---- create and update --------------------------------------------------------------

  async #upsert(change: ConfigChange): Promise<void> {
    const tx = this.#tx;
    const v = change.value;
    const create = change.action === 'create';
    const n0 = name(change, 0);
    switch (change.kind) {
      case 'bucket': {
        if (create) {
          assertValidBucketName(n0);
          await tx.createBucket({ name: n0, ownerArn: this.#o.callerArn, tags: tags(v) });
        } else await tx.putBucketTags(n0, tags(v));
        const arn = `arn:aws:s3:::${n0}`;
        const existing = await tx.getResourcePolicy(arn);
        if (v.policy) {
          const text = this.#doc(v.policy, 'resource', `policy of bucket ${n0}`);
          if (!existing || !same(JSON.parse(existing.document), JSON.parse(text)))
            await tx.putResourcePolicy(arn, text, existing ? existing.version : null);
        } else if (existing) await tx.deleteResourcePolicy(arn, existing.version);
        break;
      }
      case 'policy': {
        const text = this.#doc(v.document, 'identity', `policy "${n0}"`);
        if (create) {
          await tx.createPolicy({
            name: n0,
            path: str(v, 'path') ?? '/',
            description: str(v, 'description') ?? '',
            tags: tags(v),
            document: text,
          });
          break;
        }
        const p = await tx.findPolicyByName(n0);
        if (!p) throw new NotFoundError(`managed policy "${n0}" does not exist`);
        if (p.description !== (str(v, 'description') ?? '') || !same(p.tags, tags(v)))
          await tx.updatePolicy(p.arn, p.version, {
            description: str(v, 'description') ?? '',
            tags: tags(v),
          });
        const current = await tx.getPolicyVersion(p.arn, p.defaultVersionId);
        if (!current || !same(JSON.parse(current.document), JSON.parse(text))) {
          // AWS keeps at most five versions; the oldest non-default one makes room.
          const versions = await tx.listPolicyVersions(p.arn);
          if (versions.length >= 5) {
            const oldest = versions
              .filter((x) => x.versionId !== p.defaultVersionId)
              .sort((a, b) => a.createdAt - b.createdAt)[0];
            if (oldest) await tx.deletePolicyVersion(p.arn, oldest.versionId);
          }
          await tx.createPolicyVersion(p.arn, text, { setAsDefault: true });
        }
        break;
      }
      case 'user': {
        const boundary = str(v, 'permissionsBoundary');
        const boundaryArn = boundary ? await this.#policyArn(boundary) : null;
        const user = create
          ? await tx.createUser({
              name: n0,
              path: str(v, 'path') ?? '/',
              tags: tags(v),
              source: 'config',
              permissionsBoundaryArn: boundaryArn,
            })
          : await tx.getUser(n0);
        if (!user) throw new NotFoundError(`user "${n0}" does not exist`);
        if (
          !create &&
          (user.path !== (str(v, 'path') ?? '/') ||
            !same(user.tags, tags(v)) ||
            user.permissionsBoundaryArn !== boundaryArn)
        )
          await tx.updateUser(n0, user.version, {
            path: str(v, 'path') ?? '/',
            tags: tags(v),
            permissionsBoundaryArn: boundaryArn,
          });
        await this.#convergePolicies(user.arn, v, `user ${n0}`);
        const want = new Set(list(v, 'groups'));
        const have = new Set((await tx.listGroupsForUser(n0)).map((g) => g.name));
        for (const g of have) if (!want.has(g)) await tx.removeUserFromGroup(g, n0);
        for (const g of want) if (!have.has(g)) await tx.addUserToGroup(g, n0);
        break;
      }
      case 'group': {
        const group = create
          ? await tx.createGroup({ name: n0, path: str(v, 'path') ?? '/' })
          : await tx.getGroup(n0);
        if (!group) throw new NotFoundError(`group "${n0}" does not exist`);
        if (!create && group.path !== (str(v, 'path') ?? '/'))
          await tx.updateGroup(n0, group.version, { path: str(v, 'path') ?? '/' });
        await this.#convergePolicies(group.arn, v, `group ${n0}`);
        break;
      }
      case 'role': {
        const trust = this.#doc(v.trust, 'trust', `trust policy of role ${n0}`);
        const boundary = str(v, 'permissionsBoundary');
        const fields = {
          trustPolicy: trust,
          maxSessionDuration: typeof v.maxSessionDuration === 'number' ? v.maxSessionDuration : 3600,
          description: str(v, 'description') ?? '',
          tags: tags(v),
          permissionsBoundaryArn: boundary ? await this.#policyArn(boundary) : null,
        };
        let role = create
          ? await tx.createRole({ name: n0, path: str(v, 'path') ?? '/', ...fields })
          : await tx.getRole(n0);
        if (!role) throw new NotFoundError(`role "${n0}" does not exist`);
        if (!create) role = await tx.updateRole(n0, role.version, fields);
        await this.#convergePolicies(role.arn, v, `role ${n0}`);
        break;
      }
      case 'identity': {
        let identity = create
          ? await tx.createManagedIdentity({ name: n0, kind: 'user', tags: tags(v) })
          : await tx.getManagedIdentity(n0);
        if (!identity) throw new NotFoundError(`managed identity "${n0}" does not exist`);
        if (!create && !same(identity.tags, tags(v)))
          identity = await tx.updateManagedIdentity(n0, identity.version, { tags: tags(v) });
        await this.#convergePolicies(identity.arn, v, `managed identity ${n0}`);
        break;
      }
      case 'accessKey': {
        const status = str(v, 'status') === 'Inactive' ? 'Inactive' : 'Active';
        const markerKey = MARKER.accessKey(n0, name(change, 1));
        if (create) {
          const accessKeyId = generateAccessKeyId('long-term', this.#random);
          const secretAccessKey = generateSecretAccessKey(this.#random);
          const sealed = this.#o.keyring.encrypt(secretAccessKey, accessKeySecretContext(accessKeyId));
          await tx.createAccessKey({
            userName: n0,
            accessKeyId,
            secretCiphertext: Buffer.from(sealed, 'utf8'),
            status,
          });
          const old = await tx.getSetting(markerKey);
          await tx.putSetting(markerKey, accessKeyId, old?.version ?? null);
          this.secrets.push({
            address: change.address,
            path: ['users', n0, 'accessKeys', name(change, 1)],
            value: { accessKeyId, secretAccessKey },
          });
          return;
        }
        const id = await this.#accessKeyId(change);
        const key = await tx.getAccessKey(id);
        if (!key) throw new NotFoundError(`access key ${change.address} does not exist`);
        if (key.status !== status) await tx.updateAccessKeyStatus(id, status, key.version);
        return;
      }
      case 'workspace': {
        const identity = resourceIdentity(record(v, 'identity'));
        let ws = create
          ? await tx.createWorkspace({
              name: n0,
              description: str(v, 'description') ?? '',
              tags: tags(v),
              identity,
            })
          : await tx.getWorkspace(n0);
        if (!ws) throw new NotFoundError(`workspace "${n0}" does not exist`);
        if (!create)
          ws = await tx.updateWorkspace(n0, ws.version, {
            description: str(v, 'description') ?? '',
            tags: tags(v),
            identity,
          });
        await this.#systemIdentity(ws.arn, hasSystemIdentity(identity));
        break;
      }
      case 'model': {
        const m = name(change, 1);
        if (create)
          await tx.createModel({
            workspace: n0,
            name: m,
            description: str(v, 'description') ?? '',
            tags: tags(v),
          });
        else {
          const model = await tx.getModel(n0, m);
          if (!model) throw new NotFoundError(`model ${change.address} does not exist`);
          await tx.updateModel(n0, m, model.version, {
            description: str(v, 'description') ?? '',
            tags: tags(v),
          });
        }
        break;
      }
      case 'modelVersion': {
        const [m, label] = [name(change, 1), name(change, 2)];
        const metadata: Record<string, unknown> = { ...record(v, 'metadata') };
        if (str(v, 'description')) metadata.description = str(v, 'description');
        if (create)
          await tx.createModelVersion({
            workspace: n0,
            model: m,
            label,
            artifactLocation: str(v, 'artifact') ?? null,
            metadata,
            tags: tags(v),
          });
        else {
          const mv = await tx.getModelVersion(n0, m, label);
          if (!mv) throw new NotFoundError(`model version ${change.address} does not exist`);
          await tx.updateModelVersion(n0, m, label, mv.version, { metadata, tags: tags(v) });
        }
        break;
      }
      case 'endpoint': {
        const e = name(change, 1);
        const identity = resourceIdentity(record(v, 'identity'));
        const fields = {
          description: str(v, 'description') ?? '',
          authMode: str(v, 'authMode') === 'key' ? ('key' as const) : ('token' as const),
          api: v.openai === true ? ('openai' as const) : ('http' as const),
          limits: record(v, 'limits') as {
            requestsPerSecond?: number;
            burst?: number;
            maxConcurrent?: number;
          },
          tags: tags(v),
        };
        let ep = create
          ? await tx.createEndpoint({
              workspace: n0,
              name: e,
              ...fields,
              identity,
            })
          : await tx.getEndpoint(e);
        if (!ep) throw new NotFoundError(`endpoint ${change.address} does not exist`);
        if (!create) ep = await tx.updateEndpoint(e, ep.version, { ...fields, identity });
        await this.#systemIdentity(ep.arn, hasSystemIdentity(identity));
        if (ep.authMode === 'key')
          this.keyedEndpoints.push({ address: change.address, workspace: n0, endpoint: e });
        break;
      }
      case 'deployment': {
        const [e, d] = [name(change, 1), name(change, 2)];
        const fields = {
          upstreamUrl: str(v, 'upstream') ?? '',
          modelRef: str(v, 'model') ?? null,
          trafficWeight: typeof v.traffic === 'number' ? v.traffic : 0,
        };
        if (create) await tx.createDeployment({ endpoint: e, name: d, ...fields });
        else {
          const dep = await tx.getDeployment(e, d);
          if (!dep) throw new NotFoundError(`deployment ${change.address} does not exist`);
          await tx.updateDeployment(e, d, dep.version, fields);
        }
        break;
      }
      case 'domain': {
        const settings = record(v, 'defaultUserSettings');
        const role = str(settings, 'executionRole');
        const fields = {
          authMode: str(v, 'authMode') === 'SSO' ? ('SSO' as const) : ('IAM' as const),
          defaultUserSettings: {
            ...(role ? { executionRoleArn: await this.#roleArn(role) } : {}),
            allowedNetworks: list(settings, 'allowedNetworks'),
          },
          tags: tags(v),
        };
        if (create) await tx.createDomain({ name: n0, ...fields });
        else {
          const d = await tx.getDomain(n0);
          if (!d) throw new NotFoundError(`domain "${n0}" does not exist`);
          await tx.updateDomain(n0, d.version, fields);
        }
        break;
      }
      case 'userProfile': {
        const p = name(change, 1);
        const role = str(v, 'executionRole');
        const fields = { executionRoleArn: role ? await this.#roleArn(role) : null, tags: tags(v) };
        const user = str(v, 'user') ?? p;
        if (!user.startsWith('arn:') && !(await tx.getUser(user)))
          throw new NotFoundError(`user profile ${change.address}: user "${user}" does not exist`);
        if (create) await tx.createUserProfile({ domain: n0, name: p, ...fields });
        else {
          const profile = await tx.getUserProfile(n0, p);
          if (!profile) throw new NotFoundError(`user profile ${change.address} does not exist`);
          await tx.updateUserProfile(n0, p, profile.version, fields);
        }
        const key = MARKER.profileUser(n0, p);
        const old = await tx.getSetting(key);
        if (user === p) await this.#unmark(key);
        else if (old?.value !== user) await tx.putSetting(key, user, old?.version ?? null);
        break;
      }
      case 'roleDefinition': {
        if (findBuiltInRole(n0))
          throw new InputError(`${change.address}: "${n0}" is a built-in role; choose another name`);
        const fields = {
          description: str(v, 'description') ?? '',
          permissions: permissionsOf(v, change.address),
          assignableScopes: list(v, 'assignableScopes').map((s) => resolveResourcePath(this.#o.accountId, s)),
        };
        if (create) await tx.createRoleDefinition({ name: n0, ...fields });
        else {
          const d = await tx.getRoleDefinition(n0);
          if (!d) throw new NotFoundError(`role definition "${n0}" does not exist`);
          await tx.updateRoleDefinition(n0, d.version, fields);
        }
        break;
      }
      case 'scimGroupMapping': {
        for (const m of await tx.listScimGroupMappings({ groupName: n0 }))
          await tx.deleteScimGroupMapping(m.id);
        for (const g of grantsOf(v)) {
          const def = await this.#roleDefinition(g.role);
          await tx.createScimGroupMapping({
            groupName: n0,
            roleDefinition: def.name,
            scope: resolveResourcePath(this.#o.accountId, g.scope),
          });
        }
        break;
      }
      case 'roleAssignment': {
        const principalArn = await this.#resolvePrincipal(str(v, 'principal') ?? '');
        const def = await this.#roleDefinition(str(v, 'role') ?? '');
        const scope = resolveResourcePath(this.#o.accountId, str(v, 'scope') ?? '');
        if (def.assignableScopes.length && !def.assignableScopes.some((s) => scopeContains(s, scope)))
          throw new InputError(
            `${change.address}: role "${def.name}" may be assigned only at or below ${def.assignableScopes.join(', ')}`,
          );
        const a = await tx.createRoleAssignment({ principalArn, roleDefinition: def.id, scope });
        await this.#mark(`role-assignment/${a.id}`);
        return;
      }
    }
    if (create) await this.#mark(change.address);
  }

  async #accessKeyId(change: ConfigChange): Promise<string> {
    const marker = await this.#tx.getSetting(MARKER.accessKey(name(change, 0), name(change, 1)));
    // A key the file did not create is listed under its id (see readConfigState).
    return marker?.value ?? name(change, 1);
  }

  // ---- delete -------------------------------------------------------------------------

  async #delete(change: ConfigChange): Promise<void> {
    const tx = this.#tx;
    const n0 = name(change, 0);
    switch (change.kind) {
      case 'bucket': {
        const policy = await tx.getResourcePolicy(`arn:aws:s3:::${n0}`);
        if (policy) await tx.deleteResourcePolicy(policy.resourceArn, policy.version);
        await tx.deleteBucket(n0);
        break;
      }
      case 'policy': {
        const p = await tx.findPolicyByName(n0);
        if (!p) throw new NotFoundError(`managed policy "${n0}" does not exist`);
        for (const v of await tx.listPolicyVersions(p.arn))
          if (v.versionId !== p.defaultVersionId) await tx.deletePolicyVersion(p.arn, v.versionId);
        await tx.deletePolicy(p.arn, p.version);
        break;
      }
      case 'user': {
        const u = await tx.getUser(n0);
        if (!u) throw new NotFoundError(`user "${n0}" does not exist`);
        // The plan deletes the user's access keys (and their name markers) just before it.
        await tx.deleteUser(n0, u.version, { force: true });
        break;
      }
      case 'group': {
        const g = await tx.getGroup(n0);
        if (!g) throw new NotFoundError(`group "${n0}" does not exist`);
        await tx.deleteGroup(n0, g.version, { force: true });
        break;
      }
      case 'role': {
        const r = await tx.getRole(n0);
        if (!r) throw new NotFoundError(`role "${n0}" does not exist`);
        await tx.deleteRole(n0, r.version, { force: true });
        break;
      }
      case 'identity': {
        const i = await tx.getManagedIdentity(n0);
        if (!i) throw new NotFoundError(`managed identity "${n0}" does not exist`);
        for (const a of await tx.listAttachedPolicies(i.arn)) await tx.detachPolicy(i.arn, a.policyArn);
        for (const p of await tx.listInlinePolicies(i.arn)) await tx.deleteInlinePolicy(i.arn, p.name);
        await tx.deleteManagedIdentity(n0, i.version);
        break;
      }
      case 'accessKey': {
        const user = await tx.getUser(n0);
        // Gone with its user earlier in this apply.
        if (!user) return;
        const id = await this.#accessKeyId(change);
        if (await tx.getAccessKey(id)) await tx.deleteAccessKey(id);
        await this.#unmark(MARKER.accessKey(n0, name(change, 1)));
        return;
      }
      case 'workspace': {
        const ws = await tx.getWorkspace(n0);
        if (!ws) throw new NotFoundError(`workspace "${n0}" does not exist`);
        await tx.deleteWorkspace(n0);
        await this.#systemIdentity(ws.arn, false);
        break;
      }
      case 'model':
        await tx.deleteModel(n0, name(change, 1));
        break;
      case 'modelVersion':
        await tx.deleteModelVersion(n0, name(change, 1), name(change, 2));
        break;
      case 'endpoint': {
        const ep = await tx.getEndpoint(name(change, 1));
        if (!ep) throw new NotFoundError(`endpoint ${change.address} does not exist`);
        for (const d of await tx.listDeployments(ep.name)) await tx.deleteDeployment(ep.name, d.name);
        for (const k of await tx.listBearerKeys({ ownerArn: ep.arn })) await tx.deleteBearerKey(k.id);
        await tx.deleteEndpoint(ep.name);
        await this.#systemIdentity(ep.arn, false);
        break;
      }
      case 'deployment':
        await tx.deleteDeployment(name(change, 1), name(change, 2));
        break;
      case 'domain':
        await tx.deleteDomain(n0);
        break;
      case 'userProfile':
        await tx.deleteUserProfile(n0, name(change, 1));
        await this.#unmark(MARKER.profileUser(n0, name(change, 1)));
        break;
      case 'roleDefinition': {
        const d = await tx.getRoleDefinition(n0);
        if (!d) throw new NotFoundError(`role definition "${n0}" does not exist`);
        await tx.deleteRoleDefinition(n0, d.version);
        break;
      }
      case 'scimGroupMapping':
        for (const m of await tx.listScimGroupMappings({ groupName: n0 }))
          await tx.deleteScimGroupMapping(m.id);
        break;
      case 'roleAssignment': {
        const v = change.value;
        const principalArn = await this.#resolvePrincipal(str(v, 'principal') ?? '');
        const scope = resolveResourcePath(this.#o.accountId, str(v, 'scope') ?? '');
        const role = findBuiltInRole(str(v, 'role') ?? '')?.name ?? str(v, 'role');
        const found = (await tx.listRoleAssignments({ principalArn, scope })).find(
          (a) => a.roleDefinitionName === role || a.roleDefinitionId === role,
        );
        if (!found) throw new NotFoundError(`${change.address} does not exist`);
        await tx.deleteRoleAssignment(found.id);
        await this.#unmark(MARKER.source(`role-assignment/${found.id}`));
        return;
      }
    }
    await this.#unmark(MARKER.source(change.address));
  }
}

/** A fresh id for secrets files and logs (never the secret). */
export const newApplyId = (): string => randomUUID();
