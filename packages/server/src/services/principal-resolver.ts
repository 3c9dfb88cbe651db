import {
  type CompiledPolicy,
  type ContextValue,
  compilePolicy,
  parsePolicyOrThrow,
  type RequestPrincipal,
} from '@aiam/policy';
import { type Clock, systemClock } from '../clock.js';
import { AuthenticationError } from '../errors.js';
import type { Keyring } from '../identity/keyring.js';
import type { OidcSigningKeys } from '../identity/oidc-signing-keys.js';
import type { SecretHasher } from '../identity/secret-hash.js';
import type { SessionClaims, SessionTokenIssuer } from '../identity/session-token.js';
import type { SigV4Credential, SigV4SecretLookup } from '../identity/sigv4-verifier.js';
import type { Store } from '../store/store.js';
import type { BearerKey } from '../store/store-types.js';
import type { AccessSnapshotCache, AccessView } from './access-snapshot-cache.js';
import { accessKeySecretContext } from './iam-service.js';

/** The kind of principal, as `aws:PrincipalType` names it. */
export type ResolvedPrincipalType = 'User' | 'AssumedRole' | 'FederatedUser' | 'ManagedIdentity' | 'Account';

/**
 * Who made a request, once its credential is verified: the engine's `RequestPrincipal` plus
 * what the request context is built from. Same shape as the HTTP layer's
 * `AuthenticatedPrincipal`, so it is passed through as is.
 */
export interface ResolvedPrincipal {
  readonly principal: RequestPrincipal;
  readonly type: ResolvedPrincipalType;
  /** `aws:username`, for IAM users only. */
  readonly userName?: string;
  /** `aws:userid`: `AIDA…` for a user, `AROA…:session` for a role session. */
  readonly userId: string;
  /** `aws:PrincipalTag/…`. */
  readonly tags?: Readonly<Record<string, string>>;
  /** The access key or bearer key id used (never the secret). */
  readonly credentialId?: string;
  /** The session's policies (AssumeRole `Policy`/`PolicyArns`); they cap its grants. */
  readonly sessionPolicies?: readonly CompiledPolicy[];
  /** Further condition keys (`aws:TokenIssueTime`, `aws:SourceIdentity`, `sts:RoleSessionName`). */
  readonly context?: Readonly<Record<string, ContextValue>>;
  /** For temporary credentials: the session they belong to (role chaining reads it). */
  readonly session?: SessionContext & { readonly issuedAt: number; readonly expiresAt: number };
}

/**
 * What a session token's context carries (written by `StsService`). `chain` lists the
 * principals the session derives from (the user who assumed the role, and theirs through role
 * chaining): each must still be active and not revoked for the session to work.
 */
export interface SessionContext {
  /** 'role' for AssumeRole*, 'identity' for a managed identity's credentials. */
  readonly kind: 'role' | 'identity';
  readonly roleArn?: string;
  readonly roleSessionName?: string;
  readonly chain?: readonly string[];
  /** The inline session policy (JSON) and the session's managed policy ARNs. */
  readonly policy?: string;
  readonly policyArns?: readonly string[];
  readonly tags?: Readonly<Record<string, string>>;
  readonly transitiveTagKeys?: readonly string[];
  readonly sourceIdentity?: string;
  /** Web identity federation: the issuer and subject, for `aws:FederatedProvider`-style keys. */
  readonly federatedProvider?: string;
  readonly webIdentitySubject?: string;
}

/** A resolved bearer key: its owner and purpose, and the owner as a principal when it is one. */
export interface BearerResolution {
  readonly keyId: string;
  readonly ownerArn: string;
  readonly purpose: string;
  /** Set when the owner is a user or managed identity (an endpoint key's owner is the endpoint). */
  readonly principal?: ResolvedPrincipal;
}

/** Options of {@link PrincipalResolver}. */
export interface PrincipalResolverOptions {
  readonly store: Store;
  readonly cache: AccessSnapshotCache;
  readonly keyring: Keyring;
  readonly sessions: SessionTokenIssuer;
  readonly hasher?: SecretHasher;
  readonly oidc?: OidcSigningKeys;
  readonly clock?: Clock;
  /** Record a key's last use at most this often (default 60 s), written in the background. */
  readonly lastUsedIntervalMs?: number;
  /** Told when recording last use failed (never fails a request). */
  readonly onBackgroundError?: (error: unknown) => void;
}

interface CachedKey {
  readonly secret: string;
  readonly userArn: string;
  readonly status: 'Active' | 'Inactive';
}

const SESSION_POLICY_CACHE = 1000;

/**
 * Turns a verified credential into the principal the engine decides for: long-term access keys
 * (AKIA…), temporary credentials (ASIA… with a session token), bearer keys and aiam JWTs.
 *
 * Revocation is immediate: every lookup reads the principal from the access view at the newest
 * committed revision (so disabling a user, a key or an identity takes effect on the very next
 * request on this node), and refuses sessions issued at or before the principal's
 * session-revocation time, or derived from a principal that is gone, disabled or revoked.
 * Decrypted key secrets are cached only for one revision.
 */
export class PrincipalResolver {
  readonly #store: Store;
  readonly #cache: AccessSnapshotCache;
  readonly #keyring: Keyring;
  readonly #sessions: SessionTokenIssuer;
  readonly #hasher: SecretHasher | undefined;
  readonly #oidc: OidcSigningKeys | undefined;
  readonly #clock: Clock;
  readonly #lastUsedInterval: number;
  readonly #onError: ((e: unknown) => void) | undefined;
  #keysRevision = -1;
  #keys = new Map<string, CachedKey>();
  #bearer = new Map<string, BearerKey | null>();
  readonly #sessionPolicies = new Map<string, CompiledPolicy | null>();
  readonly #lastRecorded = new Map<string, number>();
  #pendingUse = new Map<string, { at: number; service: string }>();
  #usageTimer: NodeJS.Timeout | undefined;
  #usageWrite: Promise<void> = Promise.resolve();

  /** The `lookupSecret` to give `SigV4Verifier`: temporary and long-term keys. */
  readonly lookupSecret: SigV4SecretLookup<{ identity: ResolvedPrincipal }>;

  constructor(options: PrincipalResolverOptions) {
    this.#store = options.store;
    this.#cache = options.cache;
    this.#keyring = options.keyring;
    this.#sessions = options.sessions;
    this.#hasher = options.hasher;
    this.#oidc = options.oidc;
    this.#clock = options.clock ?? systemClock;
    this.#lastUsedInterval = options.lastUsedIntervalMs ?? 60_000;
    this.#onError = options.onBackgroundError;
    const temporary = this.#sessions.secretLookup<
      { identity: ResolvedPrincipal },
      { identity: ResolvedPrincipal }
    >(
      async (claims) => {
        const identity = await this.resolveSession(claims);
        return identity && { identity };
      },
      (accessKeyId) => this.#longTerm(accessKeyId),
    );
    this.lookupSecret = async (accessKeyId, context) => {
      const found = await temporary(accessKeyId, context);
      if (found === undefined) return undefined;
      // The SessionClaims the issuer adds are not needed past this point.
      const { identity, secretAccessKey, fingerprint, sessionTokenRequired } = found as {
        identity: ResolvedPrincipal;
      } & SigV4Credential;
      return {
        identity: { ...identity, credentialId: accessKeyId },
        secretAccessKey,
        ...(fingerprint !== undefined ? { fingerprint } : {}),
        ...(sessionTokenRequired !== undefined ? { sessionTokenRequired } : {}),
      };
    };
  }

  async #view(): Promise<AccessView> {
    const view = await this.#cache.view();
    if (view.revision !== this.#keysRevision) {
      this.#keys = new Map();
      this.#bearer = new Map();
      this.#keysRevision = view.revision;
    }
    return view;
  }

  async #longTerm(
    accessKeyId: string,
  ): Promise<({ identity: ResolvedPrincipal } & SigV4Credential) | undefined> {
    if (!accessKeyId.startsWith('AKIA')) return undefined;
    const view = await this.#view();
    let key = this.#keys.get(accessKeyId);
    if (key === undefined) {
      const stored = await this.#store.getAccessKey(accessKeyId);
      if (stored === undefined) return undefined;
      const ciphertext = Buffer.from(stored.secretCiphertext).toString('utf8');
      key = {
        secret: this.#keyring.decryptString(ciphertext, accessKeySecretContext(accessKeyId)),
        userArn: stored.userArn,
        status: stored.status,
      };
      if (this.#keysRevision === view.revision) this.#keys.set(accessKeyId, key);
    }
    if (key.status !== 'Active') return undefined;
    const user = view.usersByArn.get(key.userArn);
    if (user === undefined || user.status !== 'active') return undefined;
    this.#noteUse(accessKeyId, 'aiam');
    return {
      identity: {
        principal: {
          arn: user.arn,
          account: view.accountId,
          groupArns: view.groupsOfUser.get(user.arn) ?? [],
        },
        type: 'User',
        userName: user.name,
        userId: user.id,
        tags: user.tags,
        credentialId: accessKeyId,
      },
      secretAccessKey: key.secret,
      fingerprint: `ak:${accessKeyId}`,
    };
  }

  /**
   * The principal of an opened session token, or undefined when the session must be refused:
   * its role, identity or any principal it derives from is gone or disabled, or sessions of any
   * of them were revoked at or after it was issued.
   */
  async resolveSession(claims: SessionClaims): Promise<ResolvedPrincipal | undefined> {
    const view = await this.#view();
    const c = claims.context as unknown as SessionContext;
    const revoked = (arn: string) => {
      const before = view.sessionsRevokedBefore.get(arn);
      return before !== undefined && claims.issuedAt <= before;
    };
    for (const arn of c.chain ?? []) {
      if (revoked(arn) || !isActive(view, arn)) return undefined;
    }
    const context: Record<string, ContextValue> = {
      'aws:TokenIssueTime': new Date(claims.issuedAt).toISOString(),
    };
    if (c.sourceIdentity !== undefined) context['aws:SourceIdentity'] = c.sourceIdentity;
    if (c.federatedProvider !== undefined) context['aws:FederatedProvider'] = c.federatedProvider;
    const sessionPolicies = this.#sessionPoliciesOf(view, c);
    const session = { ...c, issuedAt: claims.issuedAt, expiresAt: claims.expiresAt };
    if (c.kind === 'identity') {
      const identity = view.identitiesByArn.get(claims.principal);
      if (identity === undefined || identity.status !== 'active' || revoked(identity.arn)) return undefined;
      return {
        principal: { arn: identity.arn, account: view.accountId },
        type: 'ManagedIdentity',
        userId: identity.id,
        tags: identity.tags,
        context,
        session,
        ...(sessionPolicies ? { sessionPolicies } : {}),
      };
    }
    const role = c.roleArn === undefined ? undefined : view.rolesByArn.get(c.roleArn);
    if (role === undefined || revoked(role.arn)) return undefined;
    if (c.roleSessionName !== undefined) context['sts:RoleSessionName'] = c.roleSessionName;
    // AWS: a role session's principal tags are the role's tags overridden by session tags.
    const tags = { ...role.tags, ...(c.tags ?? {}) };
    return {
      principal: { arn: claims.principal, account: view.accountId, identityArns: [role.arn] },
      type: 'AssumedRole',
      userId: `${role.id}:${c.roleSessionName ?? ''}`,
      tags,
      context,
      session,
      ...(sessionPolicies ? { sessionPolicies } : {}),
    };
  }

  #sessionPoliciesOf(view: AccessView, c: SessionContext): CompiledPolicy[] | undefined {
    if (c.policy === undefined && (c.policyArns === undefined || c.policyArns.length === 0)) return undefined;
    // Fail closed: a session policy that no longer compiles, or a PolicyArn since deleted,
    // contributes no Allow, and the remaining list still caps the session.
    const out: CompiledPolicy[] = [];
    if (c.policy !== undefined) {
      let hit = this.#sessionPolicies.get(c.policy);
      if (hit === undefined) {
        try {
          hit = compilePolicy(parsePolicyOrThrow(c.policy, { kind: 'session' }), {
            id: 'session-policy',
            kind: 'session',
          });
        } catch {
          hit = null;
        }
        if (this.#sessionPolicies.size >= SESSION_POLICY_CACHE) this.#sessionPolicies.clear();
        this.#sessionPolicies.set(c.policy, hit);
      }
      if (hit) out.push(hit);
    }
    for (const arn of c.policyArns ?? []) {
      const p = view.sessionPolicy(arn);
      if (p) out.push(p);
    }
    return out;
  }

  /**
   * Resolves a bearer key (endpoint key, SCIM token) by its peppered hash. Undefined for an
   * unknown or inactive key, or one whose owner is disabled or gone.
   */
  async resolveBearerKey(token: string): Promise<BearerResolution | undefined> {
    if (!this.#hasher) throw new Error('PrincipalResolver needs a SecretHasher to resolve bearer keys');
    const view = await this.#view();
    let key: BearerKey | null | undefined;
    for (const hash of this.#hasher.candidates(token)) {
      key = this.#bearer.get(hash);
      if (key === undefined) {
        key = (await this.#store.getBearerKey({ hash })) ?? null;
        if (this.#keysRevision === view.revision) this.#bearer.set(hash, key);
      }
      if (key) break;
    }
    if (key?.status !== 'Active') return undefined;
    const owner = key.ownerArn;
    const base = { keyId: key.id, ownerArn: owner, purpose: key.purpose };
    const user = view.usersByArn.get(owner);
    if (user) {
      if (user.status !== 'active') return undefined;
      return {
        ...base,
        principal: {
          principal: {
            arn: user.arn,
            account: view.accountId,
            groupArns: view.groupsOfUser.get(user.arn) ?? [],
          },
          type: 'User',
          userName: user.name,
          userId: user.id,
          tags: user.tags,
          credentialId: key.id,
        },
      };
    }
    const identity = view.identitiesByArn.get(owner);
    if (identity) {
      if (identity.status !== 'active') return undefined;
      return {
        ...base,
        principal: {
          principal: { arn: identity.arn, account: view.accountId },
          type: 'ManagedIdentity',
          userId: identity.id,
          tags: identity.tags,
          credentialId: key.id,
        },
      };
    }
    return base;
  }

  /**
   * Resolves an aiam-issued JWT (its `sub` is a user or managed identity ARN) for `audience`.
   * Undefined when the subject is gone, disabled, or its sessions were revoked since `iat`.
   */
  async resolveJwt(token: string, audience: string): Promise<ResolvedPrincipal | undefined> {
    if (!this.#oidc) throw new Error('PrincipalResolver needs OidcSigningKeys to resolve JWTs');
    let payload: Awaited<ReturnType<OidcSigningKeys['verify']>>;
    try {
      payload = await this.#oidc.verify(token, audience);
    } catch (e) {
      throw new AuthenticationError('invalid aiam token', { cause: e });
    }
    const view = await this.#view();
    const sub = String(payload.sub);
    const before = view.sessionsRevokedBefore.get(sub);
    if (before !== undefined && (payload.iat ?? 0) * 1000 <= before) return undefined;
    const context = { 'aws:TokenIssueTime': new Date((payload.iat ?? 0) * 1000).toISOString() };
    const user = view.usersByArn.get(sub);
    if (user) {
      if (user.status !== 'active') return undefined;
      return {
        principal: {
          arn: user.arn,
          account: view.accountId,
          groupArns: view.groupsOfUser.get(user.arn) ?? [],
        },
        type: 'User',
        userName: user.name,
        userId: user.id,
        tags: user.tags,
        context,
      };
    }
    const identity = view.identitiesByArn.get(sub);
    if (identity && identity.status === 'active') {
      return {
        principal: { arn: identity.arn, account: view.accountId },
        type: 'ManagedIdentity',
        userId: identity.id,
        tags: identity.tags,
        context,
      };
    }
    return undefined;
  }

  /** Writes pending last-used times now (call before shutdown). */
  async flushUsage(): Promise<void> {
    if (this.#usageTimer) {
      clearTimeout(this.#usageTimer);
      this.#usageTimer = undefined;
    }
    const pending = this.#pendingUse;
    this.#pendingUse = new Map();
    this.#usageWrite = this.#usageWrite.then(async () => {
      for (const [id, use] of pending) {
        try {
          await this.#store.recordAccessKeyUse(id, use.at, use.service);
        } catch (e) {
          // A key deleted meanwhile, a busy store: last-used is best effort.
          this.#onError?.(e);
        }
      }
    });
    await this.#usageWrite;
  }

  // Last-used is recorded at most once per interval per key, batched off the request path: a
  // busy key must not turn every request into a store write.
  #noteUse(accessKeyId: string, service: string): void {
    const now = this.#clock.now();
    const last = this.#lastRecorded.get(accessKeyId);
    if (last !== undefined && now - last < this.#lastUsedInterval) return;
    this.#lastRecorded.set(accessKeyId, now);
    if (this.#lastRecorded.size > 100_000) this.#lastRecorded.clear();
    this.#pendingUse.set(accessKeyId, { at: now, service });
    if (this.#usageTimer === undefined) {
      this.#usageTimer = setTimeout(() => {
        this.#usageTimer = undefined;
        void this.flushUsage();
      }, 1000);
      this.#usageTimer.unref();
    }
  }
}

/** True when `arn` names an existing, active user, an existing role or an active identity. */
function isActive(view: AccessView, arn: string): boolean {
  const user = view.usersByArn.get(arn);
  if (user) return user.status === 'active';
  if (view.rolesByArn.has(arn)) return true;
  const identity = view.identitiesByArn.get(arn);
  return identity !== undefined && identity.status === 'active';
}
