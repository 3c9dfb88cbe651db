import type { ContextValue, Decision, RequestContext, RequestPrincipal } from '@aiam/policy';
import { decodeJwt } from 'jose';
import { type Clock, systemClock } from '../clock.js';
import { AuthenticationError, InputError, NotAllowedError } from '../errors.js';
import {
  ExternalTokenVerifier,
  type JwksFetch,
  type TrustedIssuer,
} from '../identity/external-token-verifier.js';
import type { OidcSigningKeys } from '../identity/oidc-signing-keys.js';
import type { SessionTokenIssuer, TemporaryCredentials } from '../identity/session-token.js';
import type { Store } from '../store/store.js';
import type { Role } from '../store/store-types.js';
import { type AccessSnapshotCache, type AccessView, trustPolicyId } from './access-snapshot-cache.js';
import type { ServiceAuthorizer } from './authorizer.js';
import { checkPolicyDocument } from './policy-documents.js';
import type { ResolvedPrincipal, SessionContext } from './principal-resolver.js';

/** The AssumeRole parameters, with the STS API's names in camelCase. */
export interface AssumeRoleRequest {
  readonly roleArn: string;
  readonly roleSessionName: string;
  /** 900..the role's MaxSessionDuration (3600 when chaining from a role session); default 3600. */
  readonly durationSeconds?: number;
  /** An inline session policy (JSON); caps the session's permissions. */
  readonly policy?: string;
  /** Managed policies used as session policies (at most 10). */
  readonly policyArns?: readonly string[];
  /** Session tags; `sts:TagSession` must be allowed. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Tag keys that pass on to sessions chained from this one. */
  readonly transitiveTagKeys?: readonly string[];
  /** Set once (`sts:SetSourceIdentity` required); sticks through role chaining. */
  readonly sourceIdentity?: string;
  readonly externalId?: string;
}

/** AssumeRoleWithWebIdentity's parameters: no caller credentials, a token instead. */
export interface AssumeRoleWithWebIdentityRequest {
  readonly roleArn: string;
  readonly roleSessionName: string;
  readonly webIdentityToken: string;
  readonly durationSeconds?: number;
  readonly policy?: string;
  readonly policyArns?: readonly string[];
}

/** What AssumeRole* returns (the STS response's fields). */
export interface AssumeRoleResult {
  readonly credentials: TemporaryCredentials;
  readonly assumedRoleUser: { readonly arn: string; readonly assumedRoleId: string };
  readonly sourceIdentity?: string;
  /** Percentage of the packed-policy limit the session policy and tags use (as AWS reports). */
  readonly packedPolicySize: number;
  /** The authorization decision that allowed it (for `explain`). */
  readonly decisionId: string;
  /** AssumeRoleWithWebIdentity only. */
  readonly subjectFromWebIdentityToken?: string;
  readonly provider?: string;
  readonly audience?: string;
}

/** GetCallerIdentity's answer. */
export interface CallerIdentity {
  readonly userId: string;
  readonly account: string;
  readonly arn: string;
}

/** Options of {@link StsService}. */
export interface StsServiceOptions {
  readonly store: Store;
  readonly cache: AccessSnapshotCache;
  readonly authorizer: ServiceAuthorizer;
  readonly sessions: SessionTokenIssuer;
  /** aiam's own issuer, for web identity tokens it issued. */
  readonly oidc?: OidcSigningKeys;
  /** Audiences accepted on aiam's own tokens (default `sts.amazonaws.com`). */
  readonly ownAudiences?: readonly string[];
  /** The fetch used for external issuers' JWKS (tests, proxies). */
  readonly jwksFetch?: JwksFetch;
  readonly clock?: Clock;
}

// AWS STS rules (AssumeRole API reference).
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const SOURCE_IDENTITY = /^[\w+=,.@-]{2,64}$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{0,256}$/u;
const MIN_DURATION = 900;
const DEFAULT_DURATION = 3600;
// Role chaining limits a session to one hour (IAM User Guide, "Role chaining").
const CHAINED_MAX_DURATION = 3600;
const MAX_SESSION_POLICY_CHARS = 2048;
const MAX_POLICY_ARNS = 10;
const MAX_SESSION_TAGS = 50;

/**
 * The STS domain service: AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity, and
 * credentials for managed identities. Every permission question goes through the one
 * authorizer: the caller must be allowed `sts:AssumeRole` on the role by its identity-based
 * policies (or role assignments) AND the role's trust policy must allow it; `sts:TagSession`
 * and `sts:SetSourceIdentity` likewise when tags or a source identity are set.
 */
export class StsService {
  readonly #store: Store;
  readonly #cache: AccessSnapshotCache;
  readonly #authorizer: ServiceAuthorizer;
  readonly #sessions: SessionTokenIssuer;
  readonly #oidc: OidcSigningKeys | undefined;
  readonly #ownAudiences: readonly string[];
  readonly #jwksFetch: JwksFetch | undefined;
  readonly #clock: Clock;
  #external: { revision: number; verifier: ExternalTokenVerifier } | undefined;

  constructor(options: StsServiceOptions) {
    this.#store = options.store;
    this.#cache = options.cache;
    this.#authorizer = options.authorizer;
    this.#sessions = options.sessions;
    this.#oidc = options.oidc;
    this.#ownAudiences = options.ownAudiences ?? ['sts.amazonaws.com'];
    this.#jwksFetch = options.jwksFetch;
    this.#clock = options.clock ?? systemClock;
  }

  /** GetCallerIdentity: who the caller is. Needs no permission (as in AWS). */
  getCallerIdentity(caller: ResolvedPrincipal): CallerIdentity {
    return { userId: caller.userId, account: caller.principal.account, arn: caller.principal.arn };
  }

  /**
   * AssumeRole. `context` is the caller's request context (source IP, time, principal keys…)
   * as the HTTP layer built it; the STS keys of this request are added to it.
   */
  async assumeRole(
    caller: ResolvedPrincipal,
    request: AssumeRoleRequest,
    context: RequestContext,
  ): Promise<AssumeRoleResult> {
    checkSessionName(request.roleSessionName);
    const view = await this.#cache.view();
    const parent = caller.session;
    const chained = caller.type === 'AssumedRole';
    const role = view.rolesByArn.get(request.roleArn);
    const duration = checkDuration(request.durationSeconds, role, chained);
    const policy = request.policy === undefined ? undefined : checkSessionPolicy(request.policy);
    const policyArns = checkPolicyArns(view, request.policyArns);

    // Session tags: transitive tags of the parent session carry over and may not be replaced.
    const inherited: Record<string, string> = {};
    for (const k of parent?.transitiveTagKeys ?? []) {
      const v = parent?.tags?.[k];
      if (v !== undefined) inherited[k] = v;
    }
    const tags = checkTags(request.tags ?? {}, inherited);
    const transitive = [...new Set([...(parent?.transitiveTagKeys ?? []), ...checkTransitive(request)])];

    let sourceIdentity = parent?.sourceIdentity;
    if (request.sourceIdentity !== undefined) {
      if (!SOURCE_IDENTITY.test(request.sourceIdentity))
        throw new InputError('SourceIdentity must be 2-64 characters of letters, digits and +=,.@_-', {
          code: 'ValidationError',
        });
      if (sourceIdentity !== undefined && sourceIdentity !== request.sourceIdentity)
        throw new NotAllowedError(
          `the source identity is already "${sourceIdentity}" for this session chain and cannot be changed`,
        );
      sourceIdentity = request.sourceIdentity;
    }

    const stsKeys: Record<string, ContextValue | undefined> = {
      'sts:RoleSessionName': request.roleSessionName,
      'sts:ExternalId': request.externalId,
      'sts:SourceIdentity': sourceIdentity,
      'sts:TransitiveTagKeys': request.transitiveTagKeys?.length ? [...request.transitiveTagKeys] : undefined,
      'aws:TagKeys': Object.keys(request.tags ?? {}).length ? Object.keys(request.tags ?? {}) : undefined,
    };
    for (const [k, v] of Object.entries(request.tags ?? {})) stsKeys[`aws:RequestTag/${k}`] = v;
    const requestContext = withKeys(context, stsKeys);

    const ask = (action: string) =>
      this.#authorizer.authorize({
        principal: caller.principal,
        action,
        resource: request.roleArn,
        context: requestContext,
        ...(caller.sessionPolicies ? { sessionPolicies: caller.sessionPolicies } : {}),
        audit: caller.credentialId ? { credentialId: caller.credentialId } : undefined,
      });
    const main = await ask('sts:AssumeRole');
    // A missing role is refused like a forbidden one, so callers cannot probe which roles exist.
    if (!role || !main.allowed || !trustAllows(main.decision, role) || !identityAllows(main.decision)) {
      throw new NotAllowedError(
        `${caller.principal.arn} is not authorized to perform sts:AssumeRole on ${request.roleArn}: both the caller's identity policies and the role's trust policy must allow it`,
        { decisionId: main.decisionId },
      );
    }
    if (Object.keys(request.tags ?? {}).length > 0)
      await this.#require(ask, 'sts:TagSession', request.roleArn, caller);
    if (sourceIdentity !== undefined)
      await this.#require(ask, 'sts:SetSourceIdentity', request.roleArn, caller);

    const chain = [...(parent?.chain ?? [])];
    if (chained && parent?.roleArn) chain.push(parent.roleArn);
    else if (!chained) chain.push(caller.principal.arn);
    const session: SessionContext = {
      kind: 'role',
      roleArn: role.arn,
      roleSessionName: request.roleSessionName,
      chain,
      ...(policy !== undefined ? { policy } : {}),
      ...(policyArns.length ? { policyArns } : {}),
      ...(Object.keys(tags).length ? { tags } : {}),
      ...(transitive.length ? { transitiveTagKeys: transitive } : {}),
      ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
    };
    return {
      ...this.#issue(view, role, request.roleSessionName, duration, session),
      ...(sourceIdentity !== undefined ? { sourceIdentity } : {}),
      decisionId: main.decisionId,
    };
  }

  /**
   * AssumeRoleWithWebIdentity: the token comes from aiam's own issuer or a trusted external
   * one. The trust policy must allow `sts:AssumeRoleWithWebIdentity` for `Principal:
   * {Federated: ISSUER}` (or the `oidc-provider/HOST` ARN), typically with conditions on
   * `HOST:sub` and `HOST:aud`. No caller credentials are involved.
   */
  async assumeRoleWithWebIdentity(
    request: AssumeRoleWithWebIdentityRequest,
    context: RequestContext,
  ): Promise<AssumeRoleResult> {
    checkSessionName(request.roleSessionName);
    const identity = await this.#verifyWebIdentity(request.webIdentityToken);
    const view = await this.#cache.view();
    const role = view.rolesByArn.get(request.roleArn);
    const duration = checkDuration(request.durationSeconds, role, false);
    const policy = request.policy === undefined ? undefined : checkSessionPolicy(request.policy);
    const policyArns = checkPolicyArns(view, request.policyArns);
    const host = issuerHost(identity.issuer);
    const principal: RequestPrincipal = {
      arn: identity.issuer,
      account: view.accountId,
      type: 'Federated',
      federatedProvider: identity.issuer,
      identityArns: [`arn:aws:iam::${view.accountId}:oidc-provider/${host}`],
    };
    const keys: Record<string, ContextValue | undefined> = {
      [`${host}:sub`]: identity.subject,
      [`${host}:aud`]: identity.audience,
      [`${host}:iss`]: identity.issuer,
      'aws:FederatedProvider': identity.issuer,
      'sts:RoleSessionName': request.roleSessionName,
    };
    const decision = await this.#authorizer.authorize({
      principal,
      action: 'sts:AssumeRoleWithWebIdentity',
      resource: request.roleArn,
      context: withKeys(context, keys),
    });
    if (!role || !decision.allowed || !trustAllows(decision.decision, role)) {
      throw new NotAllowedError(
        `the web identity ${identity.issuer} (sub ${identity.subject}) is not authorized to assume ${request.roleArn}: its trust policy must allow sts:AssumeRoleWithWebIdentity for this issuer`,
        { decisionId: decision.decisionId },
      );
    }
    const session: SessionContext = {
      kind: 'role',
      roleArn: role.arn,
      roleSessionName: request.roleSessionName,
      chain: [],
      federatedProvider: identity.issuer,
      webIdentitySubject: identity.subject,
      ...(policy !== undefined ? { policy } : {}),
      ...(policyArns.length ? { policyArns } : {}),
    };
    return {
      ...this.#issue(view, role, request.roleSessionName, duration, session),
      decisionId: decision.decisionId,
      subjectFromWebIdentityToken: identity.subject,
      provider: identity.issuer,
      audience: identity.audience,
    };
  }

  /**
   * Temporary credentials for a managed identity (the container-credentials endpoint and
   * `aiam run --identity`). The caller's right to obtain them is the route's to check.
   */
  async issueIdentityCredentials(
    identityArn: string,
    durationSeconds = DEFAULT_DURATION,
  ): Promise<TemporaryCredentials> {
    const view = await this.#cache.view();
    const identity = view.identitiesByArn.get(identityArn);
    if (identity?.status !== 'active')
      throw new NotAllowedError(`managed identity ${identityArn} does not exist or is disabled`);
    if (!Number.isInteger(durationSeconds) || durationSeconds < MIN_DURATION || durationSeconds > 43200)
      throw new InputError(`DurationSeconds must be a whole number from ${MIN_DURATION} to 43200`, {
        code: 'ValidationError',
      });
    const session: SessionContext = { kind: 'identity' };
    return this.#sessions.issue({ principal: identity.arn, durationSeconds, context: { ...session } });
  }

  async #require(
    ask: (action: string) => ReturnType<ServiceAuthorizer['authorize']>,
    action: string,
    roleArn: string,
    caller: ResolvedPrincipal,
  ): Promise<void> {
    const r = await ask(action);
    if (!r.allowed)
      throw new NotAllowedError(
        `${caller.principal.arn} is not authorized to perform ${action} on ${roleArn}`,
        {
          decisionId: r.decisionId,
        },
      );
  }

  #issue(
    view: AccessView,
    role: Role,
    sessionName: string,
    duration: number,
    session: SessionContext,
  ): Omit<AssumeRoleResult, 'decisionId'> {
    // AWS: the assumed-role ARN carries the role name without its path.
    const arn = `arn:aws:sts::${view.accountId}:assumed-role/${role.name}/${sessionName}`;
    const packed = (session.policy?.length ?? 0) + JSON.stringify(session.tags ?? {}).length;
    const credentials = this.#sessions.issue({
      principal: arn,
      durationSeconds: duration,
      context: { ...session },
    });
    return {
      credentials,
      assumedRoleUser: { arn, assumedRoleId: `${role.id}:${sessionName}` },
      packedPolicySize: Math.min(100, Math.ceil((packed / MAX_SESSION_POLICY_CHARS) * 100)),
    };
  }

  async #verifyWebIdentity(token: string): Promise<{ issuer: string; subject: string; audience: string }> {
    let iss: string | undefined;
    let aud: string | string[] | undefined;
    try {
      ({ iss, aud } = decodeJwt(token));
    } catch (e) {
      throw new AuthenticationError('malformed web identity token', {
        cause: e,
        code: 'InvalidIdentityToken',
      });
    }
    try {
      if (this.#oidc && iss === this.#oidc.issuer) {
        const audiences = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
        const accepted = audiences.find((a) => this.#ownAudiences.includes(a));
        if (accepted === undefined) throw new Error(`audience ${String(aud)} is not accepted`);
        const payload = await this.#oidc.verify(token, accepted);
        return { issuer: this.#oidc.issuer, subject: String(payload.sub), audience: accepted };
      }
      const verifier = await this.#externalVerifier();
      const identity = await verifier.verify(token);
      const a = identity.payload.aud;
      return {
        issuer: identity.issuer,
        subject: identity.subject,
        audience: Array.isArray(a) ? (a[0] ?? '') : String(a),
      };
    } catch (e) {
      throw new AuthenticationError(`web identity token refused: ${(e as Error).message}`, {
        cause: e,
        code: 'InvalidIdentityToken',
      });
    }
  }

  /** The verifier over the stored trusted issuers, rebuilt when the store changes. */
  async #externalVerifier(): Promise<ExternalTokenVerifier> {
    const view = await this.#cache.view();
    if (this.#external?.revision === view.revision) return this.#external.verifier;
    const issuers: TrustedIssuer[] = (await this.#store.listTrustedIssuers()).map((i) => ({
      issuer: i.issuer,
      audiences: i.audiences,
      ...(i.jwks ? { jwks: JSON.parse(i.jwks) } : {}),
      ...(i.jwksUri && !i.jwks ? { jwksUri: i.jwksUri } : {}),
    }));
    const verifier = new ExternalTokenVerifier(issuers, {
      clock: this.#clock,
      ...(this.#jwksFetch ? { fetch: this.#jwksFetch } : {}),
    });
    this.#external = { revision: view.revision, verifier };
    return verifier;
  }
}

function trustAllows(decision: Decision, role: Role): boolean {
  const id = trustPolicyId(role.arn);
  return decision.matched.some((m) => m.effect === 'Allow' && m.policyKind === 'trust' && m.policyId === id);
}

function identityAllows(decision: Decision): boolean {
  return decision.matched.some(
    (m) => m.effect === 'Allow' && (m.policyKind === 'identity' || m.policyKind === 'role-assignment'),
  );
}

function withKeys(context: RequestContext, keys: Record<string, ContextValue | undefined>): RequestContext {
  const map = new Map(context);
  for (const [k, v] of Object.entries(keys)) if (v !== undefined) map.set(k.toLowerCase(), v);
  return map;
}

function checkSessionName(name: string): void {
  if (typeof name !== 'string' || !SESSION_NAME.test(name)) {
    throw new InputError(
      `RoleSessionName "${String(name)}" is invalid: use 2-64 letters, digits and +=,.@_- characters`,
      { code: 'ValidationError' },
    );
  }
}

function checkDuration(value: number | undefined, role: Role | undefined, chained: boolean): number {
  const duration = value ?? DEFAULT_DURATION;
  const max = chained
    ? Math.min(CHAINED_MAX_DURATION, role?.maxSessionDuration ?? 3600)
    : (role?.maxSessionDuration ?? 3600);
  if (!Number.isInteger(duration) || duration < MIN_DURATION || duration > max) {
    throw new InputError(
      `DurationSeconds must be a whole number from ${MIN_DURATION} to ${max}${chained ? ' (role chaining is limited to one hour)' : " (the role's MaxSessionDuration)"}; got ${String(value)}`,
      { code: 'ValidationError' },
    );
  }
  return duration;
}

function checkSessionPolicy(policy: string): string {
  if (policy.length > MAX_SESSION_POLICY_CHARS) {
    throw new InputError(
      `the session policy is ${policy.length} characters; at most ${MAX_SESSION_POLICY_CHARS} are allowed`,
      { code: 'PackedPolicyTooLarge' },
    );
  }
  return checkPolicyDocument(policy, 'session', 'session policy').text;
}

function checkPolicyArns(view: AccessView, arns: readonly string[] | undefined): string[] {
  if (!arns || arns.length === 0) return [];
  if (arns.length > MAX_POLICY_ARNS)
    throw new InputError(`at most ${MAX_POLICY_ARNS} PolicyArns may be passed; got ${arns.length}`, {
      code: 'ValidationError',
    });
  for (const arn of arns) {
    if (!view.policiesByArn.has(arn))
      throw new InputError(`session policy ${arn} does not exist`, { code: 'ValidationError' });
  }
  return [...arns];
}

function checkTags(
  tags: Readonly<Record<string, string>>,
  inherited: Readonly<Record<string, string>>,
): Record<string, string> {
  const entries = Object.entries(tags);
  if (entries.length + Object.keys(inherited).length > MAX_SESSION_TAGS)
    throw new InputError(`a session may carry at most ${MAX_SESSION_TAGS} tags`, { code: 'ValidationError' });
  const seen = new Set<string>();
  for (const [k, v] of entries) {
    if (!TAG_KEY.test(k) || typeof v !== 'string' || !TAG_VALUE.test(v))
      throw new InputError(`session tag "${k}" is invalid: keys 1-128, values 0-256 characters`, {
        code: 'ValidationError',
      });
    // AWS: tag keys are case-insensitive within a session; a transitive tag cannot be overridden.
    const lower = k.toLowerCase();
    if (seen.has(lower))
      throw new InputError(`session tag "${k}" is given twice`, { code: 'ValidationError' });
    seen.add(lower);
    if (Object.keys(inherited).some((i) => i.toLowerCase() === lower))
      throw new InputError(
        `session tag "${k}" is transitive from the calling session and cannot be replaced`,
        {
          code: 'ValidationError',
        },
      );
  }
  return { ...inherited, ...tags };
}

function checkTransitive(request: AssumeRoleRequest): string[] {
  const keys = request.transitiveTagKeys ?? [];
  for (const k of keys) {
    if (!Object.hasOwn(request.tags ?? {}, k))
      throw new InputError(`TransitiveTagKeys names "${k}", which is not among the session tags`, {
        code: 'ValidationError',
      });
  }
  return [...keys];
}

/** The issuer URL without its scheme and trailing slash, as AWS names OIDC condition keys. */
export function issuerHost(issuer: string): string {
  return issuer.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}
