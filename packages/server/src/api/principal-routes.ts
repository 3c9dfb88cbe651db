import type { ContextValue } from '@aiam/policy';
import { z } from 'zod';
import type { ApiContext } from './api-context.js';
import { type ApiRoute, apiRoute, pageQuery, paginate, type RawInput, rawString } from './api-route.js';
import {
  GroupOut,
  IamPath,
  IdentityOut,
  Name,
  NameParams,
  NoQuery,
  PolicyDocument,
  RoleOut,
  Tags,
  UserOut,
  pageOf,
} from './api-schemas.js';

/** `aws:RequestTag/K` and `aws:TagKeys` of a body's `tags`, as AWS sets them on tagging calls. */
export function requestTagConditions(input: RawInput): Record<string, ContextValue | undefined> {
  const tags = input.body.tags;
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags)) return {};
  const out: Record<string, ContextValue | undefined> = { 'aws:TagKeys': Object.keys(tags) };
  for (const [k, v] of Object.entries(tags)) if (typeof v === 'string') out[`aws:RequestTag/${k}`] = v;
  return out;
}

/** The version to write at: the caller's `If-Match`, or the current one when it sent none. */
export async function writeVersion(
  ifMatch: number | undefined,
  current: () => Promise<{ version: number }>,
): Promise<number> {
  return ifMatch ?? (await current()).version;
}

const ForceQuery = z.strictObject({
  force: z
    .enum(['true', 'false'])
    .optional()
    .describe('Also remove what the entity still has (keys, memberships, policies).'),
});
const TagKeysQuery = z.strictObject({
  keys: z.string().min(1).describe('Comma-separated tag keys to remove.'),
});
const TagsBody = z.strictObject({ tags: Tags });
const TagsOut = z.object({ tags: z.record(z.string(), z.string()) });

/** Users: CRUD, tags, and the groups of a user. */
export function userRoutes(ctx: ApiContext): ApiRoute[] {
  const { iam } = ctx;
  const arn = (p: RawInput) => ctx.arnOf('user', p.params.name ?? '');
  return [
    apiRoute({
      operationId: 'createUser',
      method: 'POST',
      path: '/users',
      tag: 'users',
      summary: 'Create a user.',
      action: 'iam:CreateUser',
      body: z.strictObject({
        name: Name.max(64),
        path: IamPath.optional(),
        tags: Tags.optional(),
        permissionsBoundaryArn: z.string().optional(),
      }),
      response: UserOut,
      status: 201,
      resource: ({ body }) =>
        `arn:aws:iam::${ctx.accountId()}:user${rawString(body, 'path') ?? '/'}${rawString(body, 'name') ?? ''}`,
      conditions: (input) => ({
        ...requestTagConditions(input),
        'iam:PermissionsBoundary': rawString(input.body, 'permissionsBoundaryArn'),
      }),
      handle: async ({ body }) => {
        const user = await iam.createUser(body);
        return { body: user, version: user.version };
      },
    }),
    apiRoute({
      operationId: 'listUsers',
      method: 'GET',
      path: '/users',
      tag: 'users',
      summary: 'List users, optionally under a path prefix.',
      action: 'iam:ListUsers',
      paginated: true,
      query: z.strictObject({ pathPrefix: IamPath.optional(), ...pageQuery }),
      response: pageOf(UserOut),
      resource: () => '*',
      handle: async ({ query }) => ({
        body: paginate(
          await iam.listUsers(query.pathPrefix ? { pathPrefix: query.pathPrefix } : {}),
          (u) => u.name,
          query,
        ),
      }),
    }),
    apiRoute({
      operationId: 'getUser',
      method: 'GET',
      path: '/users/{name}',
      tag: 'users',
      summary: 'Read a user; the ETag is its version.',
      action: 'iam:GetUser',
      params: NameParams,
      query: NoQuery,
      response: UserOut,
      resource: arn,
      handle: async ({ params }) => {
        const user = await iam.getUser(params.name);
        return { body: user, version: user.version };
      },
    }),
    apiRoute({
      operationId: 'updateUser',
      method: 'PATCH',
      path: '/users/{name}',
      tag: 'users',
      summary: 'Rename, move, enable or disable a user (disabling revokes its sessions at once).',
      action: 'iam:UpdateUser',
      conditional: true,
      params: NameParams,
      query: NoQuery,
      body: z.strictObject({
        newName: Name.max(64).optional(),
        path: IamPath.optional(),
        status: z.enum(['active', 'disabled']).optional(),
      }),
      response: UserOut,
      resource: arn,
      handle: async ({ params, body, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getUser(params.name));
        const { newName, ...rest } = body;
        const user = await iam.updateUser(params.name, version, {
          ...rest,
          ...(newName ? { name: newName } : {}),
        });
        return { body: user, version: user.version };
      },
    }),
    apiRoute({
      operationId: 'deleteUser',
      method: 'DELETE',
      path: '/users/{name}',
      tag: 'users',
      summary: 'Delete a user; with force=true also its keys, memberships and policies.',
      action: 'iam:DeleteUser',
      conditional: true,
      params: NameParams,
      query: ForceQuery,
      resource: arn,
      handle: async ({ params, query, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getUser(params.name));
        await iam.deleteUser(params.name, version, { force: query.force === 'true' });
        return {};
      },
    }),
    apiRoute({
      operationId: 'listUserTags',
      method: 'GET',
      path: '/users/{name}/tags',
      tag: 'users',
      summary: "A user's tags.",
      action: 'iam:ListUserTags',
      params: NameParams,
      query: NoQuery,
      response: TagsOut,
      resource: arn,
      handle: async ({ params }) => {
        const user = await iam.getUser(params.name);
        return { body: { tags: user.tags }, version: user.version };
      },
    }),
    apiRoute({
      operationId: 'tagUser',
      method: 'PUT',
      path: '/users/{name}/tags',
      tag: 'users',
      summary: 'Add or overwrite tags of a user.',
      action: 'iam:TagUser',
      conditional: true,
      params: NameParams,
      query: NoQuery,
      body: TagsBody,
      response: TagsOut,
      resource: arn,
      conditions: requestTagConditions,
      handle: async ({ params, body, ifMatch }) => {
        const user = await iam.getUser(params.name);
        const after = await iam.updateUser(params.name, ifMatch ?? user.version, {
          tags: { ...user.tags, ...body.tags },
        });
        return { body: { tags: after.tags }, version: after.version };
      },
    }),
    apiRoute({
      operationId: 'untagUser',
      method: 'DELETE',
      path: '/users/{name}/tags',
      tag: 'users',
      summary: 'Remove tags of a user by key.',
      action: 'iam:UntagUser',
      conditional: true,
      params: NameParams,
      query: TagKeysQuery,
      response: TagsOut,
      resource: arn,
      handle: async ({ params, query, ifMatch }) => {
        const user = await iam.getUser(params.name);
        const drop = new Set(query.keys.split(','));
        const tags = Object.fromEntries(Object.entries(user.tags).filter(([k]) => !drop.has(k)));
        const after = await iam.updateUser(params.name, ifMatch ?? user.version, { tags });
        return { body: { tags: after.tags }, version: after.version };
      },
    }),
    apiRoute({
      operationId: 'listGroupsForUser',
      method: 'GET',
      path: '/users/{name}/groups',
      tag: 'users',
      summary: 'The groups a user belongs to.',
      action: 'iam:ListGroupsForUser',
      paginated: true,
      params: NameParams,
      query: z.strictObject(pageQuery),
      response: pageOf(GroupOut),
      resource: arn,
      handle: async ({ params, query }) => {
        await iam.getUser(params.name);
        return { body: paginate(await iam.listGroupsForUser(params.name), (g) => g.name, query) };
      },
    }),
  ];
}

/** Groups: CRUD and members. */
export function groupRoutes(ctx: ApiContext): ApiRoute[] {
  const { iam } = ctx;
  const arn = (p: RawInput) => ctx.arnOf('group', p.params.name ?? '');
  const MemberParams = z.strictObject({ name: Name, userName: Name });
  return [
    apiRoute({
      operationId: 'createGroup',
      method: 'POST',
      path: '/groups',
      tag: 'groups',
      summary: 'Create a group.',
      action: 'iam:CreateGroup',
      body: z.strictObject({ name: Name, path: IamPath.optional() }),
      response: GroupOut,
      status: 201,
      resource: ({ body }) =>
        `arn:aws:iam::${ctx.accountId()}:group${rawString(body, 'path') ?? '/'}${rawString(body, 'name') ?? ''}`,
      handle: async ({ body }) => {
        const group = await iam.createGroup(body);
        return { body: group, version: group.version };
      },
    }),
    apiRoute({
      operationId: 'listGroups',
      method: 'GET',
      path: '/groups',
      tag: 'groups',
      summary: 'List groups.',
      action: 'iam:ListGroups',
      paginated: true,
      query: z.strictObject(pageQuery),
      response: pageOf(GroupOut),
      resource: () => '*',
      handle: async ({ query }) => ({ body: paginate(await iam.listGroups(), (g) => g.name, query) }),
    }),
    apiRoute({
      operationId: 'getGroup',
      method: 'GET',
      path: '/groups/{name}',
      tag: 'groups',
      summary: 'Read a group.',
      action: 'iam:GetGroup',
      params: NameParams,
      query: NoQuery,
      response: GroupOut,
      resource: arn,
      handle: async ({ params }) => {
        const group = await iam.getGroup(params.name);
        return { body: group, version: group.version };
      },
    }),
    apiRoute({
      operationId: 'updateGroup',
      method: 'PATCH',
      path: '/groups/{name}',
      tag: 'groups',
      summary: 'Rename or move a group.',
      action: 'iam:UpdateGroup',
      conditional: true,
      params: NameParams,
      query: NoQuery,
      body: z.strictObject({ newName: Name.optional(), path: IamPath.optional() }),
      response: GroupOut,
      resource: arn,
      handle: async ({ params, body, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getGroup(params.name));
        const group = await iam.updateGroup(params.name, version, {
          ...(body.newName ? { name: body.newName } : {}),
          ...(body.path ? { path: body.path } : {}),
        });
        return { body: group, version: group.version };
      },
    }),
    apiRoute({
      operationId: 'deleteGroup',
      method: 'DELETE',
      path: '/groups/{name}',
      tag: 'groups',
      summary: 'Delete a group; with force=true also its memberships and policies.',
      action: 'iam:DeleteGroup',
      conditional: true,
      params: NameParams,
      query: ForceQuery,
      resource: arn,
      handle: async ({ params, query, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getGroup(params.name));
        await iam.deleteGroup(params.name, version, { force: query.force === 'true' });
        return {};
      },
    }),
    apiRoute({
      operationId: 'listGroupMembers',
      method: 'GET',
      path: '/groups/{name}/members',
      tag: 'groups',
      summary: 'The users of a group (AWS GetGroup lists them too).',
      action: 'iam:GetGroup',
      paginated: true,
      params: NameParams,
      query: z.strictObject(pageQuery),
      response: pageOf(UserOut),
      resource: arn,
      handle: async ({ params, query }) => {
        await iam.getGroup(params.name);
        return { body: paginate(await iam.listGroupMembers(params.name), (u) => u.name, query) };
      },
    }),
    apiRoute({
      operationId: 'addUserToGroup',
      method: 'PUT',
      path: '/groups/{name}/members/{userName}',
      tag: 'groups',
      summary: 'Add a user to a group.',
      action: 'iam:AddUserToGroup',
      params: MemberParams,
      query: NoQuery,
      resource: arn,
      handle: async ({ params }) => {
        await iam.addUserToGroup(params.name, params.userName);
        return {};
      },
    }),
    apiRoute({
      operationId: 'removeUserFromGroup',
      method: 'DELETE',
      path: '/groups/{name}/members/{userName}',
      tag: 'groups',
      summary: 'Remove a user from a group.',
      action: 'iam:RemoveUserFromGroup',
      params: MemberParams,
      query: NoQuery,
      resource: arn,
      handle: async ({ params }) => {
        await iam.removeUserFromGroup(params.name, params.userName);
        return {};
      },
    }),
  ];
}

/** Roles: CRUD, trust policy, tags. */
export function roleRoutes(ctx: ApiContext): ApiRoute[] {
  const { iam } = ctx;
  const arn = (p: RawInput) => ctx.arnOf('role', p.params.name ?? '');
  return [
    apiRoute({
      operationId: 'createRole',
      method: 'POST',
      path: '/roles',
      tag: 'roles',
      summary: 'Create a role with a trust policy.',
      action: 'iam:CreateRole',
      body: z.strictObject({
        name: Name.max(64),
        path: IamPath.optional(),
        trustPolicy: PolicyDocument,
        maxSessionDuration: z.number().int().optional(),
        description: z.string().max(1000).optional(),
        tags: Tags.optional(),
        permissionsBoundaryArn: z.string().optional(),
      }),
      response: RoleOut,
      status: 201,
      resource: ({ body }) =>
        `arn:aws:iam::${ctx.accountId()}:role${rawString(body, 'path') ?? '/'}${rawString(body, 'name') ?? ''}`,
      conditions: (input) => ({
        ...requestTagConditions(input),
        'iam:PermissionsBoundary': rawString(input.body, 'permissionsBoundaryArn'),
      }),
      handle: async ({ body }) => {
        const role = await iam.createRole(body as Parameters<typeof iam.createRole>[0]);
        return { body: role, version: role.version };
      },
    }),
    apiRoute({
      operationId: 'listRoles',
      method: 'GET',
      path: '/roles',
      tag: 'roles',
      summary: 'List roles.',
      action: 'iam:ListRoles',
      paginated: true,
      query: z.strictObject(pageQuery),
      response: pageOf(RoleOut),
      resource: () => '*',
      handle: async ({ query }) => ({ body: paginate(await iam.listRoles(), (r) => r.name, query) }),
    }),
    apiRoute({
      operationId: 'getRole',
      method: 'GET',
      path: '/roles/{name}',
      tag: 'roles',
      summary: 'Read a role.',
      action: 'iam:GetRole',
      params: NameParams,
      query: NoQuery,
      response: RoleOut,
      resource: arn,
      handle: async ({ params }) => {
        const role = await iam.getRole(params.name);
        return { body: role, version: role.version };
      },
    }),
    apiRoute({
      operationId: 'updateRole',
      method: 'PATCH',
      path: '/roles/{name}',
      tag: 'roles',
      summary: "Change a role's description or maximum session duration.",
      action: 'iam:UpdateRole',
      conditional: true,
      params: NameParams,
      query: NoQuery,
      body: z.strictObject({
        description: z.string().max(1000).optional(),
        maxSessionDuration: z.number().int().optional(),
      }),
      response: RoleOut,
      resource: arn,
      handle: async ({ params, body, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getRole(params.name));
        const role = await iam.updateRole(params.name, version, body as { description?: string });
        return { body: role, version: role.version };
      },
    }),
    apiRoute({
      operationId: 'updateAssumeRolePolicy',
      method: 'PUT',
      path: '/roles/{name}/trust-policy',
      tag: 'roles',
      summary: "Replace a role's trust policy.",
      action: 'iam:UpdateAssumeRolePolicy',
      conditional: true,
      params: NameParams,
      query: NoQuery,
      body: z.strictObject({ document: PolicyDocument }),
      response: RoleOut,
      resource: arn,
      handle: async ({ params, body, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getRole(params.name));
        const role = await iam.updateRole(params.name, version, { trustPolicy: body.document });
        return { body: role, version: role.version };
      },
    }),
    apiRoute({
      operationId: 'deleteRole',
      method: 'DELETE',
      path: '/roles/{name}',
      tag: 'roles',
      summary: 'Delete a role; its sessions stop working at once.',
      action: 'iam:DeleteRole',
      conditional: true,
      params: NameParams,
      query: ForceQuery,
      resource: arn,
      handle: async ({ params, query, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getRole(params.name));
        await iam.deleteRole(params.name, version, { force: query.force === 'true' });
        return {};
      },
    }),
    apiRoute({
      operationId: 'tagRole',
      method: 'PUT',
      path: '/roles/{name}/tags',
      tag: 'roles',
      summary: 'Add or overwrite tags of a role.',
      action: 'iam:TagRole',
      conditional: true,
      params: NameParams,
      query: NoQuery,
      body: TagsBody,
      response: TagsOut,
      resource: arn,
      conditions: requestTagConditions,
      handle: async ({ params, body, ifMatch }) => {
        const role = await iam.getRole(params.name);
        const after = await iam.updateRole(params.name, ifMatch ?? role.version, {
          tags: { ...role.tags, ...body.tags },
        });
        return { body: { tags: after.tags }, version: after.version };
      },
    }),
  ];
}

/** Managed identities (user-assigned; system-assigned ones are listed and read here too). */
export function identityRoutes(ctx: ApiContext): ApiRoute[] {
  const { iam } = ctx;
  // Names of system-assigned identities contain "/" (their resource's path).
  const IdentityParams = z.strictObject({ name: z.string().min(1).max(512) });
  const arn = (p: RawInput) => ctx.identityArn(p.params.name ?? '');
  return [
    apiRoute({
      operationId: 'createManagedIdentity',
      method: 'POST',
      path: '/identities',
      tag: 'identities',
      summary: 'Create a user-assigned managed identity.',
      action: 'iam:CreateManagedIdentity',
      body: z.strictObject({ name: Name, tags: Tags.optional() }),
      response: IdentityOut,
      status: 201,
      resource: ({ body }) => ctx.identityArn(rawString(body, 'name') ?? ''),
      conditions: requestTagConditions,
      handle: async ({ body }) => {
        const identity = await iam.createUserAssignedIdentity(body);
        return { body: identity, version: identity.version };
      },
    }),
    apiRoute({
      operationId: 'listManagedIdentities',
      method: 'GET',
      path: '/identities',
      tag: 'identities',
      summary: 'List managed identities (system- and user-assigned).',
      action: 'iam:ListManagedIdentities',
      paginated: true,
      query: z.strictObject(pageQuery),
      response: pageOf(IdentityOut),
      resource: () => '*',
      handle: async ({ query }) => ({
        body: paginate(await iam.listManagedIdentities(), (i) => i.name, query),
      }),
    }),
    apiRoute({
      operationId: 'getManagedIdentity',
      method: 'GET',
      path: '/identities/{name}',
      tag: 'identities',
      summary: 'Read a managed identity (URL-encode "/" in system-assigned names).',
      action: 'iam:GetManagedIdentity',
      params: IdentityParams,
      query: NoQuery,
      response: IdentityOut,
      resource: arn,
      handle: async ({ params }) => {
        const identity = await iam.getManagedIdentity(params.name);
        return { body: identity, version: identity.version };
      },
    }),
    apiRoute({
      operationId: 'updateManagedIdentity',
      method: 'PATCH',
      path: '/identities/{name}',
      tag: 'identities',
      summary: 'Enable or disable an identity, or replace its tags; disabling revokes its sessions.',
      action: 'iam:UpdateManagedIdentity',
      conditional: true,
      params: IdentityParams,
      query: NoQuery,
      body: z.strictObject({ status: z.enum(['active', 'disabled']).optional(), tags: Tags.optional() }),
      response: IdentityOut,
      resource: arn,
      conditions: requestTagConditions,
      handle: async ({ params, body, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getManagedIdentity(params.name));
        const identity = await iam.updateManagedIdentity(params.name, version, body);
        return { body: identity, version: identity.version };
      },
    }),
    apiRoute({
      operationId: 'deleteManagedIdentity',
      method: 'DELETE',
      path: '/identities/{name}',
      tag: 'identities',
      summary: 'Delete a user-assigned identity.',
      action: 'iam:DeleteManagedIdentity',
      conditional: true,
      params: IdentityParams,
      query: NoQuery,
      resource: arn,
      handle: async ({ params, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getManagedIdentity(params.name));
        await iam.deleteUserAssignedIdentity(params.name, version);
        return {};
      },
    }),
  ];
}
