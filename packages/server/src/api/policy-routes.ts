import { z } from 'zod';
import { NotFoundError } from '../errors.js';
import type { ApiContext } from './api-context.js';
import { type ApiRoute, apiRoute, pageQuery, paginate, type RawInput, rawString } from './api-route.js';
import {
  AccessKeyOut,
  AttachmentOut,
  CreatedAccessKeyOut,
  IamPath,
  InlinePolicyOut,
  Name,
  NameParams,
  NoQuery,
  PolicyDocument,
  PolicyOut,
  PolicyVersionOut,
  RoleOut,
  Tags,
  UserOut,
  pageOf,
} from './api-schemas.js';
import { requestTagConditions } from './principal-routes.js';

const VersionId = z.string().regex(/^v\d{1,6}$/, 'a policy version id looks like v1, v2, …');

/** Managed policies and their versions. */
export function managedPolicyRoutes(ctx: ApiContext): ApiRoute[] {
  const { iam } = ctx;
  const arn = (p: RawInput) => ctx.arnOf('policy', p.params.name ?? '');
  const VersionParams = z.strictObject({ name: Name, versionId: VersionId });
  return [
    apiRoute({
      operationId: 'createPolicy',
      method: 'POST',
      path: '/policies',
      tag: 'policies',
      summary: 'Create a managed policy (validated; ERROR findings refuse it).',
      action: 'iam:CreatePolicy',
      body: z.strictObject({
        name: Name,
        path: IamPath.optional(),
        description: z.string().max(1000).optional(),
        tags: Tags.optional(),
        document: PolicyDocument,
      }),
      response: PolicyOut,
      status: 201,
      resource: ({ body }) =>
        `arn:aws:iam::${ctx.accountId()}:policy${rawString(body, 'path') ?? '/'}${rawString(body, 'name') ?? ''}`,
      conditions: requestTagConditions,
      handle: async ({ body }) => {
        const policy = await iam.createPolicy(body as Parameters<typeof iam.createPolicy>[0]);
        return { body: policy, version: policy.version };
      },
    }),
    apiRoute({
      operationId: 'listPolicies',
      method: 'GET',
      path: '/policies',
      tag: 'policies',
      summary: 'List managed policies.',
      action: 'iam:ListPolicies',
      paginated: true,
      query: z.strictObject(pageQuery),
      response: pageOf(PolicyOut),
      resource: () => '*',
      handle: async ({ query }) => ({ body: paginate(await iam.listPolicies(), (p) => p.name, query) }),
    }),
    apiRoute({
      operationId: 'getPolicy',
      method: 'GET',
      path: '/policies/{name}',
      tag: 'policies',
      summary: 'Read a managed policy (its default version is in /versions).',
      action: 'iam:GetPolicy',
      params: NameParams,
      query: NoQuery,
      response: PolicyOut,
      resource: arn,
      handle: async ({ params }) => {
        const policy = await iam.getPolicyByName(params.name);
        return { body: policy, version: policy.version };
      },
    }),
    apiRoute({
      operationId: 'deletePolicy',
      method: 'DELETE',
      path: '/policies/{name}',
      tag: 'policies',
      summary: 'Delete a managed policy (refused while attached).',
      action: 'iam:DeletePolicy',
      conditional: true,
      params: NameParams,
      query: NoQuery,
      resource: arn,
      handle: async ({ params, ifMatch }) => {
        const policy = await iam.getPolicyByName(params.name);
        await iam.deletePolicy(policy.arn, ifMatch ?? policy.version);
        return {};
      },
    }),
    apiRoute({
      operationId: 'listPolicyVersions',
      method: 'GET',
      path: '/policies/{name}/versions',
      tag: 'policies',
      summary: 'The versions of a managed policy (at most five).',
      action: 'iam:ListPolicyVersions',
      params: NameParams,
      query: NoQuery,
      response: pageOf(PolicyVersionOut),
      resource: arn,
      handle: async ({ params }) => {
        const policy = await iam.getPolicyByName(params.name);
        return { body: { items: await iam.listPolicyVersions(policy.arn) } };
      },
    }),
    apiRoute({
      operationId: 'createPolicyVersion',
      method: 'POST',
      path: '/policies/{name}/versions',
      tag: 'policies',
      summary: 'Add a version (at most five exist); setAsDefault makes it effective at once.',
      action: 'iam:CreatePolicyVersion',
      conditional: true,
      params: NameParams,
      query: NoQuery,
      body: z.strictObject({ document: PolicyDocument, setAsDefault: z.boolean().optional() }),
      response: PolicyVersionOut,
      status: 201,
      resource: arn,
      handle: async ({ params, body, ifMatch }) => {
        const policy = await iam.getPolicyByName(params.name);
        const version = await iam.createPolicyVersion(policy.arn, body.document as string, {
          ...(body.setAsDefault !== undefined ? { setAsDefault: body.setAsDefault } : {}),
          ...(ifMatch !== undefined ? { expectedVersion: ifMatch } : {}),
        });
        return { body: version };
      },
    }),
    apiRoute({
      operationId: 'getPolicyVersion',
      method: 'GET',
      path: '/policies/{name}/versions/{versionId}',
      tag: 'policies',
      summary: 'One version of a managed policy, with its document.',
      action: 'iam:GetPolicyVersion',
      params: VersionParams,
      query: NoQuery,
      response: PolicyVersionOut,
      resource: arn,
      handle: async ({ params }) => {
        const policy = await iam.getPolicyByName(params.name);
        return { body: await iam.getPolicyVersion(policy.arn, params.versionId) };
      },
    }),
    apiRoute({
      operationId: 'deletePolicyVersion',
      method: 'DELETE',
      path: '/policies/{name}/versions/{versionId}',
      tag: 'policies',
      summary: 'Delete a non-default version.',
      action: 'iam:DeletePolicyVersion',
      params: VersionParams,
      query: NoQuery,
      resource: arn,
      handle: async ({ params }) => {
        const policy = await iam.getPolicyByName(params.name);
        await iam.deletePolicyVersion(policy.arn, params.versionId);
        return {};
      },
    }),
    apiRoute({
      operationId: 'setDefaultPolicyVersion',
      method: 'PUT',
      path: '/policies/{name}/default-version',
      tag: 'policies',
      summary: 'Make a version the default (effective on the next request).',
      action: 'iam:SetDefaultPolicyVersion',
      conditional: true,
      params: NameParams,
      query: NoQuery,
      body: z.strictObject({ versionId: VersionId }),
      response: PolicyOut,
      resource: arn,
      handle: async ({ params, body, ifMatch }) => {
        const policy = await iam.getPolicyByName(params.name);
        const after = await iam.setDefaultPolicyVersion(
          policy.arn,
          body.versionId,
          ifMatch ?? policy.version,
        );
        return { body: after, version: after.version };
      },
    }),
  ];
}

type Kind = 'user' | 'group' | 'role';
const TITLE: Record<Kind, string> = { user: 'User', group: 'Group', role: 'Role' };

/**
 * Inline policies, managed-policy attachments and (users and roles) permissions boundaries, one
 * set of routes per principal kind, each with AWS's per-kind action (`iam:AttachUserPolicy`…).
 */
export function principalPolicyRoutes(ctx: ApiContext): ApiRoute[] {
  const { iam } = ctx;
  const routes: ApiRoute[] = [];
  const policyArnOf = (ref: string) =>
    ref.startsWith('arn:') ? ref : ctx.arnOf('policy', ref.replace(/^.*\//, ''));
  for (const kind of ['user', 'group', 'role'] as const) {
    const T = TITLE[kind];
    const base = `/${kind}s/{name}`;
    const tag = `${kind}s`;
    const arn = (p: RawInput) => ctx.arnOf(kind, p.params.name ?? '');
    // The principal must exist: a name that resolves to no entity is a 404, not an empty list.
    const principal = async (name: string): Promise<string> => {
      const entity =
        kind === 'user'
          ? await iam.getUser(name)
          : kind === 'group'
            ? await iam.getGroup(name)
            : await iam.getRole(name);
      return entity.arn;
    };
    const InlineParams = z.strictObject({ name: Name, policyName: Name });
    const AttachParams = z.strictObject({ name: Name, policy: z.string().min(1).max(2048) });
    routes.push(
      apiRoute({
        operationId: `list${T}Policies`,
        method: 'GET',
        path: `${base}/policies`,
        tag,
        summary: `The inline policies of a ${kind}.`,
        action: `iam:List${T}Policies`,
        params: NameParams,
        query: NoQuery,
        response: pageOf(InlinePolicyOut),
        resource: arn,
        handle: async ({ params }) => ({
          body: { items: await iam.listInlinePolicies(await principal(params.name)) },
        }),
      }),
      apiRoute({
        operationId: `put${T}Policy`,
        method: 'PUT',
        path: `${base}/policies/{policyName}`,
        tag,
        summary: `Create or replace an inline policy of a ${kind} (validated).`,
        action: `iam:Put${T}Policy`,
        conditional: true,
        params: InlineParams,
        query: NoQuery,
        body: z.strictObject({ document: PolicyDocument }),
        response: InlinePolicyOut,
        resource: arn,
        handle: async ({ params, body, ifMatch }) => {
          const policy = await iam.putInlinePolicy(
            await principal(params.name),
            params.policyName,
            body.document as string,
            ifMatch,
          );
          return { body: policy, version: policy.version };
        },
      }),
      apiRoute({
        operationId: `get${T}Policy`,
        method: 'GET',
        path: `${base}/policies/{policyName}`,
        tag,
        summary: `One inline policy of a ${kind}.`,
        action: `iam:Get${T}Policy`,
        params: InlineParams,
        query: NoQuery,
        response: InlinePolicyOut,
        resource: arn,
        handle: async ({ params }) => {
          const policy = await iam.getInlinePolicy(await principal(params.name), params.policyName);
          return { body: policy, version: policy.version };
        },
      }),
      apiRoute({
        operationId: `delete${T}Policy`,
        method: 'DELETE',
        path: `${base}/policies/{policyName}`,
        tag,
        summary: `Delete an inline policy of a ${kind}.`,
        action: `iam:Delete${T}Policy`,
        params: InlineParams,
        query: NoQuery,
        resource: arn,
        handle: async ({ params }) => {
          await iam.deleteInlinePolicy(await principal(params.name), params.policyName);
          return {};
        },
      }),
      apiRoute({
        operationId: `listAttached${T}Policies`,
        method: 'GET',
        path: `${base}/attached-policies`,
        tag,
        summary: `The managed policies attached to a ${kind}.`,
        action: `iam:ListAttached${T}Policies`,
        params: NameParams,
        query: NoQuery,
        response: pageOf(AttachmentOut),
        resource: arn,
        handle: async ({ params }) => ({
          body: { items: await iam.listAttachedPolicies(await principal(params.name)) },
        }),
      }),
      apiRoute({
        operationId: `attach${T}Policy`,
        method: 'PUT',
        path: `${base}/attached-policies/{policy}`,
        tag,
        summary: `Attach a managed policy (by name, or URL-encoded ARN) to a ${kind}.`,
        action: `iam:Attach${T}Policy`,
        params: AttachParams,
        query: NoQuery,
        resource: arn,
        conditions: ({ params }) => ({ 'iam:PolicyARN': policyArnOf(params.policy ?? '') }),
        handle: async ({ params }) => {
          const policyArn = params.policy.startsWith('arn:')
            ? params.policy
            : (await iam.getPolicyByName(params.policy)).arn;
          await iam.attachPolicy(await principal(params.name), policyArn);
          return {};
        },
      }),
      apiRoute({
        operationId: `detach${T}Policy`,
        method: 'DELETE',
        path: `${base}/attached-policies/{policy}`,
        tag,
        summary: `Detach a managed policy from a ${kind}.`,
        action: `iam:Detach${T}Policy`,
        params: AttachParams,
        query: NoQuery,
        resource: arn,
        conditions: ({ params }) => ({ 'iam:PolicyARN': policyArnOf(params.policy ?? '') }),
        handle: async ({ params }) => {
          const policyArn = params.policy.startsWith('arn:')
            ? params.policy
            : (await iam.getPolicyByName(params.policy)).arn;
          await iam.detachPolicy(await principal(params.name), policyArn);
          return {};
        },
      }),
    );
    if (kind === 'group') continue;
    const Out = kind === 'user' ? UserOut : RoleOut;
    routes.push(
      apiRoute({
        operationId: `put${T}PermissionsBoundary`,
        method: 'PUT',
        path: `${base}/permissions-boundary`,
        tag,
        summary: `Set the permissions boundary of a ${kind} (a managed policy that caps its grants).`,
        action: `iam:Put${T}PermissionsBoundary`,
        conditional: true,
        params: NameParams,
        query: NoQuery,
        body: z.strictObject({ policy: z.string().min(1).max(2048) }),
        response: Out,
        resource: arn,
        conditions: ({ body }) => ({
          'iam:PermissionsBoundary': policyArnOf(rawString(body, 'policy') ?? ''),
        }),
        handle: async ({ params, body, ifMatch }) => {
          const policyArn = body.policy.startsWith('arn:')
            ? (await iam.getPolicy(body.policy)).arn
            : (await iam.getPolicyByName(body.policy)).arn;
          const entity = kind === 'user' ? await iam.getUser(params.name) : await iam.getRole(params.name);
          const after = await iam.setPermissionsBoundary(entity.arn, policyArn, ifMatch ?? entity.version);
          return { body: after, version: after.version };
        },
      }),
      apiRoute({
        operationId: `delete${T}PermissionsBoundary`,
        method: 'DELETE',
        path: `${base}/permissions-boundary`,
        tag,
        summary: `Remove the permissions boundary of a ${kind}.`,
        action: `iam:Delete${T}PermissionsBoundary`,
        conditional: true,
        params: NameParams,
        query: NoQuery,
        response: Out,
        resource: arn,
        handle: async ({ params, ifMatch }) => {
          const entity = kind === 'user' ? await iam.getUser(params.name) : await iam.getRole(params.name);
          if (!entity.permissionsBoundaryArn)
            throw new NotFoundError(`${kind} "${params.name}" has no permissions boundary`);
          const after = await iam.setPermissionsBoundary(entity.arn, null, ifMatch ?? entity.version);
          return { body: after, version: after.version };
        },
      }),
    );
  }
  return routes;
}

/** Access keys of users: the secret is in the create answer only. */
export function accessKeyRoutes(ctx: ApiContext): ApiRoute[] {
  const { iam } = ctx;
  const arn = (p: RawInput) => ctx.arnOf('user', p.params.name ?? '');
  const KeyParams = z.strictObject({
    name: Name,
    accessKeyId: z.string().regex(/^[A-Z0-9]{16,128}$/, 'an access key id is upper-case letters and digits'),
  });
  // A key is addressed through its user, and the action is decided on that user: a caller
  // allowed to manage its own keys must not reach another user's key by its id.
  const keyOf = async (name: string, accessKeyId: string) => {
    const key = await iam.getAccessKey(accessKeyId).catch(() => undefined);
    if (!key || key.userName !== name)
      throw new NotFoundError(`user "${name}" has no access key ${accessKeyId}`);
    return key;
  };
  return [
    apiRoute({
      operationId: 'createAccessKey',
      method: 'POST',
      path: '/users/{name}/access-keys',
      tag: 'access-keys',
      summary: 'Create an access key (at most two per user); the secret is in this answer only.',
      action: 'iam:CreateAccessKey',
      params: NameParams,
      query: NoQuery,
      response: CreatedAccessKeyOut,
      status: 201,
      resource: arn,
      handle: async ({ params }) => ({ body: await iam.createAccessKey(params.name) }),
    }),
    apiRoute({
      operationId: 'listAccessKeys',
      method: 'GET',
      path: '/users/{name}/access-keys',
      tag: 'access-keys',
      summary: "A user's access keys, without secrets, with their last use.",
      action: 'iam:ListAccessKeys',
      params: NameParams,
      query: NoQuery,
      response: pageOf(AccessKeyOut),
      resource: arn,
      handle: async ({ params }) => {
        await iam.getUser(params.name);
        return { body: { items: await iam.listAccessKeys(params.name) } };
      },
    }),
    apiRoute({
      operationId: 'updateAccessKey',
      method: 'PATCH',
      path: '/users/{name}/access-keys/{accessKeyId}',
      tag: 'access-keys',
      summary: 'Activate or deactivate a key; effective on the next request.',
      action: 'iam:UpdateAccessKey',
      conditional: true,
      params: KeyParams,
      query: NoQuery,
      body: z.strictObject({ status: z.enum(['Active', 'Inactive']) }),
      response: AccessKeyOut,
      resource: arn,
      handle: async ({ params, body, ifMatch }) => {
        const key = await keyOf(params.name, params.accessKeyId);
        const after = await iam.updateAccessKeyStatus(key.accessKeyId, body.status, ifMatch ?? key.version);
        return { body: after, version: after.version };
      },
    }),
    apiRoute({
      operationId: 'deleteAccessKey',
      method: 'DELETE',
      path: '/users/{name}/access-keys/{accessKeyId}',
      tag: 'access-keys',
      summary: 'Delete an access key.',
      action: 'iam:DeleteAccessKey',
      params: KeyParams,
      query: NoQuery,
      resource: arn,
      handle: async ({ params }) => {
        await keyOf(params.name, params.accessKeyId);
        await iam.deleteAccessKey(params.accessKeyId);
        return {};
      },
    }),
  ];
}
