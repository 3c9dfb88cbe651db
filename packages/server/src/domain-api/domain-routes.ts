import {
  type CompiledPolicy,
  compilePolicy,
  iamArn,
  parsePolicyOrThrow,
  resolveResourcePath,
} from '@aiam/policy';
import { z } from 'zod';
import { type ApiRoute, apiRoute, toProtectedRoute } from '../api/api-route.js';
import { Tags } from '../api/api-schemas.js';
import type { AppContext } from '../app/start-server.js';
import { MARKER as config } from '../config-api/config-state.js';
import { AuthenticationError, NotAllowedError, NotFoundError } from '../errors.js';
import { buildRequestContext } from '../http/request-context-builder.js';
import type { PublicRoute, RequestInfo, RouteDefinition, RouteResponse } from '../http/route-table.js';
import { DomainService, isSourceAllowed } from '../services/domain-service.js';
import type { ResolvedPrincipal } from '../services/principal-resolver.js';
import { StsService } from '../services/sts-service.js';
import type { Domain, UserProfile } from '../store/ml-registry-types.js';

const DomainName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/, 'letters, digits and hyphens, 1..63');
const ProfileName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/, 'letters, digits and hyphens, 1..63');
const RoleRef = z.string().min(1).max(2048).describe('A role name of this account, or a role ARN.');

const DomainOut = z.object({
  name: z.string(),
  arn: z.string(),
  authMode: z.enum(['IAM', 'SSO']),
  defaultUserSettings: z.object({
    executionRoleArn: z.string().optional(),
    allowedNetworks: z.array(z.string()).optional(),
  }),
  tags: z.record(z.string(), z.string()),
  version: z.number().int(),
});
const ProfileOut = z.object({
  domain: z.string(),
  name: z.string(),
  arn: z.string(),
  user: z.string(),
  executionRoleArn: z.string().nullable(),
  tags: z.record(z.string(), z.string()),
  version: z.number().int(),
});
const CredentialsOut = z.object({
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  sessionToken: z.string(),
  expiration: z.string(),
  assumedRoleArn: z.string(),
  sourceIdentity: z.string(),
});

const domainOut = (d: Domain) => ({
  name: d.name,
  arn: d.arn,
  authMode: d.authMode,
  defaultUserSettings: d.defaultUserSettings,
  tags: d.tags,
  version: d.version,
});

/**
 * A Deny-only policy confining a request to a domain's allowed networks, decided by the engine
 * beside the caller's own policies, so it holds even when those allow everything. (Deny, not a
 * session policy: an extra Allow-* session policy would widen a caller's existing session
 * policies, which combine as a union.) A missing aws:SourceIp is refused too: condition
 * operators other than Null are false on a missing key (AWS IAM condition evaluation).
 */
export function domainNetworkDeny(domain: string, networks: readonly string[]): CompiledPolicy | undefined {
  if (networks.length === 0) return undefined;
  const document = {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DomainAllowedNetworks',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { NotIpAddress: { 'aws:SourceIp': [...networks] } },
      },
      {
        Sid: 'DomainNoSourceAddress',
        Effect: 'Deny',
        Action: '*',
        Resource: '*',
        Condition: { Null: { 'aws:SourceIp': 'true' } },
      },
    ],
  };
  return compilePolicy(parsePolicyOrThrow(document, { kind: 'identity' }), {
    id: `domain-networks:${domain}`,
    kind: 'identity',
  });
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Domains (SageMaker-style, seed 004) under `/api/v1/domains`: create, get, list, delete,
 * user profiles, a console link scoped to a profile (`ml:CreatePresignedDomainUrl`), and the
 * profile's working session: the domain's execution role assumed with the person as
 * `sts:SourceIdentity`, tagged with domain and profile, and confined to the domain's allowed
 * networks by a session policy, so one shared role still keeps each person to their own data
 * and the audit trail names the person.
 */
export function domainRoutes(app: AppContext): RouteDefinition[] {
  const account = () => app.store.accountId;
  const arn = (path: string) => resolveResourcePath(account(), path);
  let service: DomainService | undefined;
  // The console base URL is known once the server listens; every node derives the same link key.
  const domains = () => {
    service ??= new DomainService({
      store: app.store,
      linkKey: app.keyring.deriveKey('aiam domain links'),
      consoleBaseUrl: app.baseUrl(),
      clock: app.clock,
    });
    return service;
  };
  const sts = new StsService({
    store: app.store,
    cache: app.accessModel,
    authorizer: app.serviceAuthorizer,
    sessions: app.sessions,
    clock: app.clock,
  });
  const roleArn = async (ref: string) => {
    if (ref.startsWith('arn:')) return ref;
    const role = await app.store.getRole(ref);
    if (!role) throw new NotFoundError(`role "${ref}" does not exist`);
    return role.arn;
  };
  const profileUser = async (p: UserProfile) =>
    (await app.store.getSetting(config.profileUser(p.domain, p.name)))?.value ?? p.name;
  const profileOut = async (p: UserProfile) => ({
    domain: p.domain,
    name: p.name,
    arn: p.arn,
    user: await profileUser(p),
    executionRoleArn: p.executionRoleArn,
    tags: p.tags,
    version: p.version,
  });
  const requireDomain = async (name: string) => {
    const d = await domains().getDomain(name);
    if (!d) throw new NotFoundError(`domain "${name}" does not exist`);
    return d;
  };
  const requireProfile = async (domain: string, name: string) => {
    const p = await domains().getUserProfile(domain, name);
    if (!p) throw new NotFoundError(`user profile "${name}" does not exist in domain "${domain}"`);
    return p;
  };
  const domainParams = z.strictObject({ domain: DomainName });
  const profileParams = z.strictObject({ domain: DomainName, profile: ProfileName });
  const profileArn = (params: Readonly<Record<string, string>>) =>
    arn(`domain/${params.domain ?? ''}/user-profile/${params.profile ?? ''}`);
  const common = { tag: 'domains' } as const;

  const routes: ApiRoute[] = [
    apiRoute({
      ...common,
      operationId: 'listDomains',
      method: 'GET',
      path: '/domains',
      summary: 'List domains.',
      action: 'ml:ListDomains',
      response: z.object({ items: z.array(DomainOut) }),
      resource: () => arn('domain/*'),
      handle: async () => ({ body: { items: (await domains().listDomains()).map(domainOut) } }),
    }),
    apiRoute({
      ...common,
      operationId: 'createDomain',
      method: 'POST',
      path: '/domains',
      summary: 'Create a domain: auth mode, default user settings (execution role, allowed networks), tags.',
      action: 'ml:CreateDomain',
      status: 201,
      body: z.strictObject({
        name: DomainName,
        authMode: z.enum(['IAM', 'SSO']).optional(),
        defaultUserSettings: z
          .strictObject({
            executionRole: RoleRef.optional(),
            allowedNetworks: z.array(z.string().min(1).max(64)).max(50).optional(),
          })
          .optional(),
        tags: Tags.optional(),
      }),
      response: DomainOut,
      resource: ({ body }) => arn(`domain/${typeof body.name === 'string' ? body.name : '*'}`),
      conditions: ({ body }) => ({
        'ml:DomainName': typeof body.name === 'string' ? body.name : undefined,
        'ml:DomainAuthMode': typeof body.authMode === 'string' ? body.authMode : 'IAM',
      }),
      handle: async ({ body }) => {
        const settings = body.defaultUserSettings ?? {};
        const d = await domains().createDomain({
          name: body.name,
          authMode: body.authMode ?? 'IAM',
          defaultUserSettings: {
            ...(settings.executionRole ? { executionRoleArn: await roleArn(settings.executionRole) } : {}),
            allowedNetworks: settings.allowedNetworks ?? [],
          },
          tags: body.tags ?? {},
        });
        return { body: domainOut(d), version: d.version };
      },
    }),
    apiRoute({
      ...common,
      operationId: 'getDomain',
      method: 'GET',
      path: '/domains/{domain}',
      summary: 'A domain.',
      action: 'ml:GetDomain',
      params: domainParams,
      response: DomainOut,
      resource: ({ params }) => arn(`domain/${params.domain ?? ''}`),
      handle: async ({ params }) => {
        const d = await requireDomain(params.domain);
        return { body: domainOut(d), version: d.version };
      },
    }),
    apiRoute({
      ...common,
      operationId: 'deleteDomain',
      method: 'DELETE',
      path: '/domains/{domain}',
      summary: 'Delete a domain; with force=true its user profiles too.',
      action: 'ml:DeleteDomain',
      params: domainParams,
      query: z.strictObject({ force: z.enum(['true', 'false']).optional() }),
      resource: ({ params }) => arn(`domain/${params.domain ?? ''}`),
      handle: async ({ params, query }) => {
        await requireDomain(params.domain);
        await domains().deleteDomain(params.domain, { force: query.force === 'true' });
        return {};
      },
    }),
    apiRoute({
      ...common,
      operationId: 'listUserProfiles',
      method: 'GET',
      path: '/domains/{domain}/user-profiles',
      summary: "A domain's user profiles.",
      action: 'ml:ListUserProfiles',
      params: domainParams,
      response: z.object({ items: z.array(ProfileOut) }),
      resource: ({ params }) => arn(`domain/${params.domain ?? ''}`),
      handle: async ({ params }) => {
        await requireDomain(params.domain);
        const items = await Promise.all((await domains().listUserProfiles(params.domain)).map(profileOut));
        return { body: { items } };
      },
    }),
    apiRoute({
      ...common,
      operationId: 'createUserProfile',
      method: 'POST',
      path: '/domains/{domain}/user-profiles',
      summary: "Create a user profile for a person (an IAM user; by default the profile's name).",
      action: 'ml:CreateUserProfile',
      status: 201,
      params: domainParams,
      body: z.strictObject({
        name: ProfileName,
        user: z.string().min(1).max(64).optional(),
        executionRole: RoleRef.optional(),
        tags: Tags.optional(),
      }),
      response: ProfileOut,
      resource: ({ params, body }) =>
        arn(`domain/${params.domain ?? ''}/user-profile/${typeof body.name === 'string' ? body.name : '*'}`),
      conditions: ({ params, body }) => ({
        'ml:DomainName': params.domain,
        'ml:UserProfileName': typeof body.name === 'string' ? body.name : undefined,
      }),
      handle: async ({ params, body }) => {
        const user = body.user ?? body.name;
        if (!(await app.store.getUser(user))) throw new NotFoundError(`user "${user}" does not exist`);
        const executionRoleArn = body.executionRole ? await roleArn(body.executionRole) : null;
        const p = await app.store.transaction(async (tx) => {
          const created = await tx.createUserProfile({
            domain: params.domain,
            name: body.name,
            executionRoleArn,
            tags: body.tags ?? {},
          });
          if (user !== body.name)
            await tx.putSetting(config.profileUser(params.domain, body.name), user, null);
          return created;
        });
        return { body: await profileOut(p), version: p.version };
      },
    }),
    apiRoute({
      ...common,
      operationId: 'getUserProfile',
      method: 'GET',
      path: '/domains/{domain}/user-profiles/{profile}',
      summary: 'A user profile.',
      action: 'ml:GetUserProfile',
      params: profileParams,
      response: ProfileOut,
      resource: ({ params }) => profileArn(params),
      handle: async ({ params }) => {
        const p = await requireProfile(params.domain, params.profile);
        return { body: await profileOut(p), version: p.version };
      },
    }),
    apiRoute({
      ...common,
      operationId: 'deleteUserProfile',
      method: 'DELETE',
      path: '/domains/{domain}/user-profiles/{profile}',
      summary: 'Delete a user profile.',
      action: 'ml:DeleteUserProfile',
      params: profileParams,
      resource: ({ params }) => profileArn(params),
      handle: async ({ params }) => {
        await requireProfile(params.domain, params.profile);
        await app.store.transaction(async (tx) => {
          await tx.deleteUserProfile(params.domain, params.profile);
          const marker = await tx.getSetting(config.profileUser(params.domain, params.profile));
          if (marker) await tx.deleteSetting(marker.key, marker.version);
        });
        return {};
      },
    }),
    apiRoute({
      ...common,
      operationId: 'createPresignedDomainUrl',
      method: 'POST',
      path: '/domains/{domain}/user-profiles/{profile}/presigned-url',
      summary:
        'A single-use console link scoped to the domain and profile (5..300 s; opened only from its networks).',
      action: 'ml:CreatePresignedDomainUrl',
      params: profileParams,
      body: z
        .strictObject({
          expiresInSeconds: z.number().int().min(5).max(300).optional(),
          sessionExpirationDurationInSeconds: z.number().int().min(1800).max(43200).optional(),
        })
        .optional(),
      response: z.object({ url: z.string(), expiresAt: z.number().int() }),
      resource: ({ params }) => profileArn(params),
      conditions: ({ params }) => ({ 'ml:DomainName': params.domain, 'ml:UserProfileName': params.profile }),
      handle: async ({ params, body, req }) => {
        // The domain's networks apply to everything done in it, this link included: decided by
        // the engine with a Deny on aws:SourceIp, whatever the caller's own policies allow.
        const networks = await domains().allowedNetworks(params.domain);
        const deny = domainNetworkDeny(params.domain, networks);
        if (deny) {
          const caller = req.caller;
          const outcome = await app.serviceAuthorizer.authorize({
            principal: caller.principal,
            action: req.action,
            resource: req.resource,
            context: buildRequestContext(
              {
                sourceIp: req.sourceIp,
                secureTransport: req.secureTransport,
                receivedAt: req.receivedAt,
                userAgent: req.headers['user-agent'],
                referer: req.headers.referer,
              },
              caller,
              { 'ml:DomainName': params.domain, 'ml:UserProfileName': params.profile },
            ),
            ...(caller.sessionPolicies ? { sessionPolicies: caller.sessionPolicies } : {}),
            identityPolicies: [deny],
            audit: {
              requestId: req.requestId,
              sourceIp: req.sourceIp,
              ...(req.headers['user-agent'] ? { userAgent: req.headers['user-agent'] } : {}),
            },
          });
          if (!outcome.allowed)
            throw new NotAllowedError(
              `requests for domain ${params.domain} must come from its allowed networks (${networks.join(', ')})`,
              { decisionId: outcome.decisionId },
            );
        }
        return { body: await domains().presignedDomainUrl(params.domain, params.profile, body ?? {}) };
      },
    }),
    apiRoute({
      ...common,
      operationId: 'startUserProfileSession',
      method: 'POST',
      path: '/domains/{domain}/user-profiles/{profile}/session',
      summary:
        "The profile's working credentials: the execution role, assumed with the person as source identity, confined to the domain's networks.",
      action: 'ml:StartUserProfileSession',
      params: profileParams,
      body: z.strictObject({ durationSeconds: z.number().int().min(900).max(43200).optional() }).optional(),
      response: CredentialsOut,
      resource: ({ params }) => profileArn(params),
      conditions: ({ params }) => ({ 'ml:DomainName': params.domain, 'ml:UserProfileName': params.profile }),
      handle: async ({ params, body, req }) => {
        const p = await requireProfile(params.domain, params.profile);
        const session = await domains().profileSession(params.domain, params.profile);
        // The source identity names the person; only that person may start the profile's session.
        const person = await profileUser(p);
        const caller = req.caller;
        if (caller.type !== 'User' || caller.principal.arn !== iamArn(account(), 'user', person)) {
          const user = await app.store.getUser(person);
          if (!user || caller.principal.arn !== user.arn)
            throw new NotAllowedError(
              `only ${person} may start the session of user profile ${params.domain}/${params.profile}`,
              { decisionId: req.decisionId },
            );
        }
        // SageMaker applies a domain's network settings to everything done in it: refuse here,
        // and confine the session itself with a policy on aws:SourceIp.
        if (!isSourceAllowed(session.allowedNetworks, req.sourceIp))
          throw new NotAllowedError(
            `requests for domain ${params.domain} must come from its allowed networks (${session.allowedNetworks.join(', ')})`,
            { decisionId: req.decisionId },
          );
        if (!session.executionRoleArn)
          throw new NotFoundError(`domain "${params.domain}" has no execution role`);
        const context = buildRequestContext(
          {
            sourceIp: req.sourceIp,
            secureTransport: req.secureTransport,
            receivedAt: req.receivedAt,
            userAgent: req.headers['user-agent'],
            referer: req.headers.referer,
          },
          caller,
        );
        const result = await sts.assumeRole(
          caller as unknown as ResolvedPrincipal,
          {
            roleArn: session.executionRoleArn,
            roleSessionName: session.roleSessionName,
            sourceIdentity: person.length >= 2 ? person : session.sourceIdentity,
            tags: session.tags,
            ...(session.sessionPolicy ? { policy: session.sessionPolicy } : {}),
            ...(body?.durationSeconds ? { durationSeconds: body.durationSeconds } : {}),
          },
          context,
        );
        return {
          body: {
            accessKeyId: result.credentials.accessKeyId,
            secretAccessKey: result.credentials.secretAccessKey,
            sessionToken: result.credentials.sessionToken,
            expiration: new Date(result.credentials.expiration).toISOString(),
            assumedRoleArn: result.assumedRoleUser.arn,
            sourceIdentity: result.sourceIdentity ?? person,
          },
        };
      },
    }),
  ];
  const consoleLogin: PublicRoute = {
    method: 'GET',
    path: '/console/domains/{domain}/login',
    auth: 'none-public',
    publicReason:
      'a presigned console link: its HMAC signature, expiry, single use and source network (DomainService.verifyDomainUrl) are the credential',
    name: 'domain console login',
    handle: async (req: RequestInfo): Promise<RouteResponse> => {
      let link: Awaited<ReturnType<DomainService['verifyDomainUrl']>>;
      try {
        link = await domains().verifyDomainUrl(`${req.path}?${req.rawQuery}`, req.sourceIp);
      } catch (err) {
        // Every refusal looks the same to the caller (the reason goes to the log, never the
        // link): expired, tampered, reused, from outside the networks, or the profile gone.
        if (err instanceof AuthenticationError) {
          app.logger.info('console link refused', {
            requestId: req.requestId,
            sourceIp: req.sourceIp,
            reason: err.reason,
          });
          throw new NotAllowedError(
            'This console link is not valid: it expired, was used, or was opened from outside the domain networks. Ask for a new one.',
          );
        }
        throw err;
      }
      const out = {
        domain: link.domain.name,
        domainArn: link.domain.arn,
        userProfile: link.userProfile.name,
        userProfileArn: link.userProfile.arn,
        sessionDurationSeconds: link.sessionDurationSeconds,
      };
      // The URL carries a signature: keep it out of caches and Referer headers.
      const headers = { 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };
      if (!/\btext\/html\b/.test(String(req.headers.accept ?? '')))
        return { status: 200, headers, body: out };
      const [d, p] = [escapeHtml(out.domain), escapeHtml(out.userProfile)];
      return {
        status: 200,
        headers: { ...headers, 'content-security-policy': "default-src 'none'" },
        contentType: 'text/html; charset=utf-8',
        text: `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>aiam domain ${d}</title></head>\n<body><h1>Domain ${d}</h1><p>Signed in as user profile <strong>${p}</strong> for ${out.sessionDurationSeconds} seconds.</p></body></html>\n`,
      };
    },
  };
  return [...routes.map(toProtectedRoute), consoleLogin];
}
