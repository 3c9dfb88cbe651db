import { resolveResourcePath } from '@aiam/policy';
import { z } from 'zod';
import { NotFoundError } from '../errors.js';
import type { ApiContext } from './api-context.js';
import { type ApiRoute, apiRoute, pageQuery, paginate, type RawInput, rawString } from './api-route.js';
import {
  DenyAssignmentOut,
  IssuerOut,
  NoQuery,
  Permissions,
  RoleAssignmentOut,
  RoleDefinitionOut,
  pageOf,
} from './api-schemas.js';
import { writeVersion } from './principal-routes.js';

const RoleDefName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\w .@+=,-]+$/, 'use letters, digits, spaces and . @ + = , _ - only');
const Id = z.string().min(1).max(128);
const PathOrArn = z.string().min(1).max(2048);

/** Role definitions, role assignments and deny assignments (Azure-style RBAC at a scope). */
export function assignmentRoutes(ctx: ApiContext): ApiRoute[] {
  const { iam } = ctx;
  const base = () => `arn:aws:iam::${ctx.accountId()}`;
  const defArn = (p: RawInput) => `${base()}:role-definition/${p.params.name ?? ''}`;
  const assignmentArn = (id: string) => `${base()}:role-assignment/${id}`;
  const DefParams = z.strictObject({ name: RoleDefName });
  const IdParams = z.strictObject({ id: Id });
  // Scope and principal, as the request names them: a path (workspace/ws) or an ARN.
  const scopeOf = (body: RawInput['body']) => {
    const s = rawString(body, 'scope');
    if (s === undefined) return undefined;
    try {
      return resolveResourcePath(ctx.accountId(), s);
    } catch {
      return s;
    }
  };
  return [
    apiRoute({
      operationId: 'createRoleDefinition',
      method: 'POST',
      path: '/role-definitions',
      tag: 'role-definitions',
      summary: 'Create a custom role definition (every action pattern must match a catalogued action).',
      action: 'iam:CreateRoleDefinition',
      body: z.strictObject({
        name: RoleDefName,
        description: z.string().max(1000).optional(),
        permissions: Permissions,
        assignableScopes: z.array(PathOrArn).max(50).optional(),
      }),
      response: RoleDefinitionOut,
      status: 201,
      resource: ({ body }) => `${base()}:role-definition/${rawString(body, 'name') ?? ''}`,
      handle: async ({ body }) => {
        const def = await iam.createRoleDefinition(body as Parameters<typeof iam.createRoleDefinition>[0]);
        return { body: def, version: def.version };
      },
    }),
    apiRoute({
      operationId: 'listRoleDefinitions',
      method: 'GET',
      path: '/role-definitions',
      tag: 'role-definitions',
      summary: 'Custom role definitions (and built-ins already used by an assignment).',
      action: 'iam:ListRoleDefinitions',
      paginated: true,
      query: z.strictObject(pageQuery),
      response: pageOf(RoleDefinitionOut),
      resource: () => '*',
      handle: async ({ query }) => ({
        body: paginate(await iam.listRoleDefinitions(), (d) => d.name, query),
      }),
    }),
    apiRoute({
      operationId: 'getRoleDefinition',
      method: 'GET',
      path: '/role-definitions/{name}',
      tag: 'role-definitions',
      summary: 'Read a role definition.',
      action: 'iam:GetRoleDefinition',
      params: DefParams,
      query: NoQuery,
      response: RoleDefinitionOut,
      resource: defArn,
      handle: async ({ params }) => {
        const def = await iam.getRoleDefinition(params.name);
        return { body: def, version: def.version };
      },
    }),
    apiRoute({
      operationId: 'updateRoleDefinition',
      method: 'PATCH',
      path: '/role-definitions/{name}',
      tag: 'role-definitions',
      summary: 'Change a custom role definition.',
      action: 'iam:UpdateRoleDefinition',
      conditional: true,
      params: DefParams,
      query: NoQuery,
      body: z.strictObject({
        description: z.string().max(1000).optional(),
        permissions: Permissions.optional(),
        assignableScopes: z.array(PathOrArn).max(50).optional(),
      }),
      response: RoleDefinitionOut,
      resource: defArn,
      handle: async ({ params, body, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getRoleDefinition(params.name));
        const def = await iam.updateRoleDefinition(
          params.name,
          version,
          body as Parameters<typeof iam.updateRoleDefinition>[2],
        );
        return { body: def, version: def.version };
      },
    }),
    apiRoute({
      operationId: 'deleteRoleDefinition',
      method: 'DELETE',
      path: '/role-definitions/{name}',
      tag: 'role-definitions',
      summary: 'Delete a custom role definition (refused while assigned).',
      action: 'iam:DeleteRoleDefinition',
      conditional: true,
      params: DefParams,
      query: NoQuery,
      resource: defArn,
      handle: async ({ params, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => iam.getRoleDefinition(params.name));
        await iam.deleteRoleDefinition(params.name, version);
        return {};
      },
    }),
    apiRoute({
      operationId: 'createRoleAssignment',
      method: 'POST',
      path: '/role-assignments',
      tag: 'role-assignments',
      summary:
        'Grant a role to a principal at a scope. Policies can limit who grants what where with iam:RoleDefinitionName and iam:AssignmentScope.',
      action: 'iam:CreateRoleAssignment',
      body: z.strictObject({
        principal: PathOrArn.describe(
          'user/alice, group/ml, role/r, managed-identity/x, workspace/ws/endpoint/e, or an ARN',
        ),
        role: RoleDefName,
        scope: PathOrArn.describe('workspace/ws/model/m, bucket/b/prefix, or an ARN'),
      }),
      response: RoleAssignmentOut,
      status: 201,
      // The assignment's id does not exist yet: the grant is governed by the condition keys.
      resource: () => assignmentArn('*'),
      conditions: ({ body }) => ({
        'iam:RoleDefinitionName': rawString(body, 'role'),
        'iam:AssignmentScope': scopeOf(body),
      }),
      handle: async ({ body }) => ({ body: await iam.createRoleAssignment(body) }),
    }),
    apiRoute({
      operationId: 'listRoleAssignments',
      method: 'GET',
      path: '/role-assignments',
      tag: 'role-assignments',
      summary: 'Role assignments, optionally of one principal or at one scope.',
      action: 'iam:ListRoleAssignments',
      paginated: true,
      query: z.strictObject({ principal: PathOrArn.optional(), scope: PathOrArn.optional(), ...pageQuery }),
      response: pageOf(RoleAssignmentOut),
      resource: () => '*',
      handle: async ({ query }) => {
        const list = await iam.listRoleAssignments({
          ...(query.principal ? { principal: query.principal } : {}),
          ...(query.scope ? { scope: query.scope } : {}),
        });
        return { body: paginate(list, (a) => a.id, query) };
      },
    }),
    apiRoute({
      operationId: 'deleteRoleAssignment',
      method: 'DELETE',
      path: '/role-assignments/{id}',
      tag: 'role-assignments',
      summary: 'Remove a role assignment.',
      action: 'iam:DeleteRoleAssignment',
      params: IdParams,
      query: NoQuery,
      resource: ({ params }) => assignmentArn(params.id ?? ''),
      handle: async ({ params }) => {
        await iam.deleteRoleAssignment(params.id);
        return {};
      },
    }),
    apiRoute({
      operationId: 'createDenyAssignment',
      method: 'POST',
      path: '/deny-assignments',
      tag: 'role-assignments',
      summary: 'Deny principals (or "*") the given permissions at a scope, whatever else grants them.',
      action: 'iam:CreateDenyAssignment',
      body: z.strictObject({
        name: z.string().min(1).max(128),
        scope: PathOrArn,
        principals: z.array(PathOrArn).min(1).max(100),
        excludedPrincipals: z.array(PathOrArn).max(100).optional(),
        permissions: Permissions,
      }),
      response: DenyAssignmentOut,
      status: 201,
      resource: () => assignmentArn('*'),
      conditions: ({ body }) => ({ 'iam:AssignmentScope': scopeOf(body) }),
      handle: async ({ body }) => ({
        body: await iam.createDenyAssignment(body as Parameters<typeof iam.createDenyAssignment>[0]),
      }),
    }),
    apiRoute({
      operationId: 'listDenyAssignments',
      method: 'GET',
      path: '/deny-assignments',
      tag: 'role-assignments',
      summary: 'Deny assignments, optionally at one scope.',
      action: 'iam:ListRoleAssignments',
      paginated: true,
      query: z.strictObject({ scope: PathOrArn.optional(), ...pageQuery }),
      response: pageOf(DenyAssignmentOut),
      resource: () => '*',
      handle: async ({ query }) => ({
        body: paginate(
          await iam.listDenyAssignments(query.scope ? { scope: query.scope } : {}),
          (d) => d.id,
          query,
        ),
      }),
    }),
    apiRoute({
      operationId: 'deleteDenyAssignment',
      method: 'DELETE',
      path: '/deny-assignments/{id}',
      tag: 'role-assignments',
      summary: 'Remove a deny assignment.',
      action: 'iam:DeleteDenyAssignment',
      params: IdParams,
      query: NoQuery,
      resource: ({ params }) => assignmentArn(params.id ?? ''),
      handle: async ({ params }) => {
        await iam.deleteDenyAssignment(params.id);
        return {};
      },
    }),
  ];
}

/** Trusted external OIDC issuers (CI systems, Kubernetes) for web-identity federation. */
export function issuerRoutes(ctx: ApiContext): ApiRoute[] {
  const { iam } = ctx;
  const providerArn = (issuer: string) =>
    `arn:aws:iam::${ctx.accountId()}:oidc-provider/${issuer.replace(/^https?:\/\//, '').replace(/\/$/, '')}`;
  const IssuerParams = z.strictObject({ issuer: z.url().describe('The issuer URL, URL-encoded.') });
  const find = async (issuer: string) => {
    const list = await iam.listTrustedIssuers();
    const found = list.find((i) => i.issuer === issuer);
    if (!found) throw new NotFoundError(`issuer ${issuer} is not trusted`);
    return found;
  };
  const IssuerBody = {
    audiences: z.array(z.string().min(1).max(256)).min(1).max(20),
    jwks: z.string().max(65536).nullable().optional(),
    jwksUri: z.url().nullable().optional(),
    subjectMapping: z.unknown().optional(),
  };
  return [
    apiRoute({
      operationId: 'createTrustedIssuer',
      method: 'POST',
      path: '/oidc-providers',
      tag: 'oidc-providers',
      summary: 'Trust an external OIDC issuer (https, audiences, and a JWKS or its URL).',
      action: 'iam:CreateOpenIDConnectProvider',
      body: z.strictObject({ issuer: z.url(), ...IssuerBody }),
      response: IssuerOut,
      status: 201,
      resource: ({ body }) => providerArn(rawString(body, 'issuer') ?? ''),
      handle: async ({ body }) => {
        const issuer = await iam.createTrustedIssuer(body as Parameters<typeof iam.createTrustedIssuer>[0]);
        return { body: issuer, version: issuer.version };
      },
    }),
    apiRoute({
      operationId: 'listTrustedIssuers',
      method: 'GET',
      path: '/oidc-providers',
      tag: 'oidc-providers',
      summary: 'Every trusted issuer.',
      action: 'iam:ListOpenIDConnectProviders',
      query: NoQuery,
      response: pageOf(IssuerOut),
      resource: () => '*',
      handle: async () => ({ body: { items: await iam.listTrustedIssuers() } }),
    }),
    apiRoute({
      operationId: 'getTrustedIssuer',
      method: 'GET',
      path: '/oidc-providers/{issuer}',
      tag: 'oidc-providers',
      summary: 'Read a trusted issuer.',
      action: 'iam:GetOpenIDConnectProvider',
      params: IssuerParams,
      query: NoQuery,
      response: IssuerOut,
      resource: ({ params }) => providerArn(params.issuer ?? ''),
      handle: async ({ params }) => {
        const issuer = await find(params.issuer);
        return { body: issuer, version: issuer.version };
      },
    }),
    apiRoute({
      operationId: 'updateTrustedIssuer',
      method: 'PATCH',
      path: '/oidc-providers/{issuer}',
      tag: 'oidc-providers',
      summary: "Change a trusted issuer's audiences, keys or subject mapping.",
      action: 'iam:UpdateOpenIDConnectProvider',
      conditional: true,
      params: IssuerParams,
      query: NoQuery,
      body: z.strictObject({ ...IssuerBody, audiences: IssuerBody.audiences.optional() }),
      response: IssuerOut,
      resource: ({ params }) => providerArn(params.issuer ?? ''),
      handle: async ({ params, body, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => find(params.issuer));
        const issuer = await iam.updateTrustedIssuer(
          params.issuer,
          version,
          body as Parameters<typeof iam.updateTrustedIssuer>[2],
        );
        return { body: issuer, version: issuer.version };
      },
    }),
    apiRoute({
      operationId: 'deleteTrustedIssuer',
      method: 'DELETE',
      path: '/oidc-providers/{issuer}',
      tag: 'oidc-providers',
      summary: 'Stop trusting an issuer.',
      action: 'iam:DeleteOpenIDConnectProvider',
      conditional: true,
      params: IssuerParams,
      query: NoQuery,
      resource: ({ params }) => providerArn(params.issuer ?? ''),
      handle: async ({ params, ifMatch }) => {
        const version = await writeVersion(ifMatch, () => find(params.issuer));
        await iam.deleteTrustedIssuer(params.issuer, version);
        return {};
      },
    }),
  ];
}
