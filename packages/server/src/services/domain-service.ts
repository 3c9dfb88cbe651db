import { createHmac, timingSafeEqual } from 'node:crypto';
import { cidrContains, parseCidr, parseIpAddress } from '@aiam/policy';
import { type Clock, systemClock } from '../clock.js';
import { AuthenticationError, InputError, NotFoundError } from '../errors.js';
import { type RandomSource, secureRandom } from '../identity/credential-ids.js';
import type {
  Domain,
  DomainUserSettings,
  NewDomain,
  NewUserProfile,
  UserProfile,
} from '../store/ml-registry-types.js';
import type { Store } from '../store/store.js';
import type { Tags } from '../store/store-types.js';

/** Options of {@link DomainService}. */
export interface DomainServiceOptions {
  readonly store: Store;
  /**
   * The HMAC-SHA256 key that signs console links, at least 32 random bytes. Derive it from
   * the server's master key (e.g. HKDF with info "aiam domain links") so every node shares it.
   */
  readonly linkKey: Uint8Array;
  /** The console's base URL, e.g. `https://aiam.example.com`. */
  readonly consoleBaseUrl: string;
  readonly clock?: Clock;
  readonly random?: RandomSource;
}

/** What a user profile works with in its domain: the role it assumes and how. */
export interface ProfileSession {
  readonly domainArn: string;
  readonly userProfileArn: string;
  /** The profile's override, else the domain's default; undefined when neither is set. */
  readonly executionRoleArn: string | undefined;
  /** `sts:SourceIdentity` of the session: the profile name, so the audit trail names the person. */
  readonly sourceIdentity: string;
  readonly roleSessionName: string;
  /** Session tags (`aws:PrincipalTag/aiam:domain`, `…/aiam:user-profile`) for per-user data prefixes. */
  readonly tags: Readonly<Record<string, string>>;
  /** CIDR blocks everything done in the domain must come from (empty: no restriction). */
  readonly allowedNetworks: readonly string[];
  /**
   * A session policy that confines the session to `allowedNetworks` (undefined when there are
   * none): session policies cap every grant, so the engine refuses each request from elsewhere.
   */
  readonly sessionPolicy: string | undefined;
}

/** A console link: show it once; it works for `expiresAt` (ms) and only once. */
export interface PresignedDomainUrl {
  readonly url: string;
  readonly expiresAt: number;
}

/** What a verified console link grants: a console session for this profile. */
export interface VerifiedDomainLink {
  readonly domain: Domain;
  readonly userProfile: UserProfile;
  readonly sessionDurationSeconds: number;
}

const LINK_VERSION = 'aiam-domain-link/v1';

/**
 * The session policy that confines a domain session to its networks: an Allow of everything
 * on the condition `IpAddress aws:SourceIp`. As a session policy it intersects with the role's
 * grants, so it adds no permission and removes every one from outside the networks.
 */
export function networkSessionPolicy(allowedNetworks: readonly string[]): string | undefined {
  if (allowedNetworks.length === 0) return undefined;
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'DomainAllowedNetworks',
        Effect: 'Allow',
        Action: '*',
        Resource: '*',
        Condition: { IpAddress: { 'aws:SourceIp': [...allowedNetworks] } },
      },
    ],
  });
}

/** True when `ip` lies in one of `networks` (or `networks` is empty: no restriction). */
export function isSourceAllowed(networks: readonly string[], ip: string | undefined): boolean {
  if (networks.length === 0) return true;
  const address = ip === undefined ? undefined : parseIpAddress(ip);
  if (!address) return false;
  return networks.some((n) => {
    const block = parseCidr(n);
    return block !== undefined && cidrContains(block, address);
  });
}

/**
 * Domains (as SageMaker's) and their user profiles, and the two things the HTTP layer needs
 * from them: the session a profile works in (`profileSession`: execution role, source
 * identity, the network-confining session policy) and console links (`presignedDomainUrl`,
 * `verifyDomainUrl`).
 *
 * Console links are HMAC-SHA256-signed URLs rather than OIDC-signed JWTs: they are verified only
 * by aiam itself, so a symmetric key is enough, shorter, and needs no key lookup. A link names
 * the domain and profile ARNs, its expiry and a random nonce; it is refused when expired,
 * tampered with, used twice (per node: nonces are remembered in memory until they expire), or
 * when the profile or domain is gone.
 */
export class DomainService {
  readonly #store: Store;
  readonly #key: Uint8Array;
  readonly #base: URL;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #usedNonces = new Map<string, number>();

  constructor(options: DomainServiceOptions) {
    if (options.linkKey.length < 32) throw new InputError('the domain link key needs at least 32 bytes');
    this.#store = options.store;
    this.#key = options.linkKey;
    this.#base = new URL(options.consoleBaseUrl);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? secureRandom;
  }

  // ---- domains and profiles -------------------------------------------------------------

  /** Creates a domain (authMode IAM|SSO, default user settings, tags). */
  createDomain(input: NewDomain): Promise<Domain> {
    return this.#store.createDomain(input);
  }

  /** A domain, or undefined. */
  getDomain(name: string): Promise<Domain | undefined> {
    return this.#store.getDomain(name);
  }

  /** Every domain. */
  listDomains(): Promise<Domain[]> {
    return this.#store.listDomains();
  }

  /** Changes a domain at `expectedVersion`. */
  updateDomain(
    name: string,
    expectedVersion: number,
    patch: { authMode?: Domain['authMode']; defaultUserSettings?: DomainUserSettings; tags?: Tags },
  ): Promise<Domain> {
    return this.#store.updateDomain(name, expectedVersion, patch);
  }

  /** Deletes a domain; with `force` its user profiles too (else ERR_DELETE_CONFLICT while it has some). */
  deleteDomain(name: string, options: { force?: boolean } = {}): Promise<void> {
    return this.#store.transaction(async (tx) => {
      if (options.force)
        for (const p of await tx.listUserProfiles(name)) await tx.deleteUserProfile(name, p.name);
      await tx.deleteDomain(name);
    });
  }

  /** Creates a user profile. */
  createUserProfile(input: NewUserProfile): Promise<UserProfile> {
    return this.#store.createUserProfile(input);
  }

  /** A user profile, or undefined. */
  getUserProfile(domain: string, name: string): Promise<UserProfile | undefined> {
    return this.#store.getUserProfile(domain, name);
  }

  /** The profiles of a domain. */
  listUserProfiles(domain: string): Promise<UserProfile[]> {
    return this.#store.listUserProfiles(domain);
  }

  /** Changes a profile's execution role override or tags. */
  updateUserProfile(
    domain: string,
    name: string,
    expectedVersion: number,
    patch: { executionRoleArn?: string | null; tags?: Tags },
  ): Promise<UserProfile> {
    return this.#store.updateUserProfile(domain, name, expectedVersion, patch);
  }

  /** Deletes a profile. */
  deleteUserProfile(domain: string, name: string): Promise<void> {
    return this.#store.deleteUserProfile(domain, name);
  }

  async #require(domain: string, profile: string): Promise<{ d: Domain; p: UserProfile }> {
    const d = await this.#store.getDomain(domain);
    if (!d) throw new NotFoundError(`domain "${domain}" does not exist`);
    const p = await this.#store.getUserProfile(d.name, profile);
    if (!p) throw new NotFoundError(`user profile "${profile}" does not exist in domain "${d.name}"`);
    return { d, p };
  }

  /**
   * The session a user profile works in: pass `roleArn: executionRoleArn`, `roleSessionName`,
   * `sourceIdentity`, `tags` and `policy: sessionPolicy` to StsService.assumeRole. The shared
   * execution role then keeps per-user isolation: policies key data prefixes on
   * `${aws:SourceIdentity}` or `${aws:PrincipalTag/aiam:user-profile}`, and the audit trail
   * names the person.
   */
  async profileSession(domain: string, userProfile: string): Promise<ProfileSession> {
    const { d, p } = await this.#require(domain, userProfile);
    const allowedNetworks = d.defaultUserSettings.allowedNetworks ?? [];
    return {
      domainArn: d.arn,
      userProfileArn: p.arn,
      executionRoleArn: p.executionRoleArn ?? d.defaultUserSettings.executionRoleArn,
      sourceIdentity: p.name,
      // RoleSessionName grammar is [\w+=,.@-]{2,64}: profile names fit, padded if one character.
      roleSessionName: p.name.length >= 2 ? p.name : `${p.name}-`,
      tags: { 'aiam:domain': d.name, 'aiam:user-profile': p.name },
      allowedNetworks,
      sessionPolicy: networkSessionPolicy(allowedNetworks),
    };
  }

  /** The allowed networks of a domain (empty: anywhere), for an `aws:SourceIp` check. */
  async allowedNetworks(domain: string): Promise<readonly string[]> {
    const d = await this.#store.getDomain(domain);
    if (!d) throw new NotFoundError(`domain "${domain}" does not exist`);
    return d.defaultUserSettings.allowedNetworks ?? [];
  }

  #sign(parts: readonly string[]): string {
    return createHmac('sha256', this.#key)
      .update([LINK_VERSION, ...parts].join('\n'), 'utf8')
      .digest('base64url');
  }

  /**
   * A console link scoped to one domain and profile, like SageMaker's CreatePresignedDomainUrl:
   * valid `expiresInSeconds` (5..300, default 300) and once; the console session it opens
   * lasts `sessionExpirationDurationInSeconds` (1800..43200, default 43200).
   */
  async presignedDomainUrl(
    domain: string,
    userProfile: string,
    options: { expiresInSeconds?: number; sessionExpirationDurationInSeconds?: number } = {},
  ): Promise<PresignedDomainUrl> {
    const expiresIn = options.expiresInSeconds ?? 300;
    const session = options.sessionExpirationDurationInSeconds ?? 43200;
    if (!Number.isInteger(expiresIn) || expiresIn < 5 || expiresIn > 300)
      throw new InputError('expiresInSeconds must be a whole number 5..300');
    if (!Number.isInteger(session) || session < 1800 || session > 43200)
      throw new InputError('sessionExpirationDurationInSeconds must be a whole number 1800..43200');
    const { d, p } = await this.#require(domain, userProfile);
    const expiresAt = this.#clock.now() + expiresIn * 1000;
    const nonce = Buffer.from(this.#random(16)).toString('base64url');
    const fields = [d.arn, p.arn, String(expiresAt), String(session), nonce];
    const url = new URL(`console/domains/${encodeURIComponent(d.name)}/login`, this.#base);
    url.searchParams.set('profile', p.name);
    url.searchParams.set('expires', String(expiresAt));
    url.searchParams.set('session', String(session));
    url.searchParams.set('nonce', nonce);
    url.searchParams.set('signature', this.#sign(fields));
    return { url: url.toString(), expiresAt };
  }

  /**
   * Verifies a console link when it is opened from `sourceIp`: signature (constant time),
   * expiry, single use, the profile still existing, and the domain's allowed networks. Every
   * failure is the same AuthenticationError (the reason is for the audit log only).
   */
  async verifyDomainUrl(link: string | URL, sourceIp: string | undefined): Promise<VerifiedDomainLink> {
    const url = typeof link === 'string' ? new URL(link, this.#base) : link;
    const m = /\/console\/domains\/([^/]+)\/login$/.exec(url.pathname);
    const q = url.searchParams;
    const [profile, expires, session, nonce, signature] = [
      'profile',
      'expires',
      'session',
      'nonce',
      'signature',
    ].map((k) => q.get(k));
    if (!m || !profile || !expires || !session || !nonce || !signature)
      throw new AuthenticationError('malformed link');
    const now = this.#clock.now();
    if (!/^\d{1,15}$/.test(expires) || Number(expires) <= now) throw new AuthenticationError('link expired');
    let domainName: string;
    try {
      domainName = decodeURIComponent(m[1] as string);
    } catch {
      throw new AuthenticationError('malformed link');
    }
    const d = await this.#store.getDomain(domainName);
    const p = d ? await this.#store.getUserProfile(d.name, profile) : undefined;
    if (!d || !p) throw new AuthenticationError('domain or profile gone');
    const expected = Buffer.from(this.#sign([d.arn, p.arn, expires, session, nonce]), 'base64url');
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new AuthenticationError('bad signature');
    for (const [n, until] of this.#usedNonces) if (until <= now) this.#usedNonces.delete(n);
    if (this.#usedNonces.has(nonce)) throw new AuthenticationError('link already used');
    if (!isSourceAllowed(d.defaultUserSettings.allowedNetworks ?? [], sourceIp))
      throw new AuthenticationError('source address outside the domain networks');
    this.#usedNonces.set(nonce, Number(expires));
    return { domain: d, userProfile: p, sessionDurationSeconds: Number(session) };
  }
}
