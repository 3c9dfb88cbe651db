import type { IncomingHttpHeaders } from 'node:http';
import type { CompiledPolicy, ContextValue, RequestPrincipal } from '@aiam/policy';
import { AuthenticationError } from '../errors.js';

/** How a route accepts callers. `none-public` is reserved for health, JWKS and discovery. */
export type AuthScheme = 'sigv4' | 'bearer';

/** The kind of principal, as `aws:PrincipalType` names it. */
export type PrincipalType = 'User' | 'AssumedRole' | 'FederatedUser' | 'ManagedIdentity' | 'Account';

/**
 * Who made a request, once authenticated: the engine's `RequestPrincipal` plus what the request
 * context is built from (`aws:username`, `aws:userid`, `aws:PrincipalTag/…`) and what the audit
 * trail records (which credential was used).
 */
export interface AuthenticatedPrincipal {
  /** What the engine matches: ARN, account, the roles it acts as, its groups. */
  readonly principal: RequestPrincipal;
  readonly type: PrincipalType;
  /** The IAM user name (`aws:username`; set only for IAM users, as in AWS). */
  readonly userName?: string;
  /** The unique id (`aws:userid`): `AIDA…` for a user, `AROA…:session` for a role session. */
  readonly userId: string;
  /** The principal's tags (`aws:PrincipalTag/…`). */
  readonly tags?: Readonly<Record<string, string>>;
  /** The access key id or bearer key id used; recorded in the audit trail, never the secret. */
  readonly credentialId?: string;
  /** Session policies that cap this session's grants (AssumeRole `Policy`/`PolicyArns`). */
  readonly sessionPolicies?: readonly CompiledPolicy[];
  /** Further condition keys the credential carries (`aws:TokenIssueTime`, `aws:SourceIdentity`). */
  readonly context?: Readonly<Record<string, ContextValue>>;
}

/** What an authenticator sees of a request: already bounded and read, nothing else. */
export interface AuthenticationInput {
  readonly method: string;
  /** The raw path (percent-encoded as received), without the query. */
  readonly path: string;
  /** The raw query string without `?`. */
  readonly rawQuery: string;
  readonly headers: IncomingHttpHeaders;
  /** Repeated headers as arrays (SigV4 canonicalizes each value). */
  readonly headersDistinct: Readonly<Record<string, string[] | undefined>>;
  readonly body: Buffer;
}

/**
 * One way of proving who a caller is. `detects` is a cheap look at the headers (does the request
 * carry this scheme's credentials at all?); `authenticate` verifies them and throws
 * `AuthenticationError` (with the precise reason, for the audit trail only) when they fail.
 */
export interface Authenticator {
  readonly scheme: AuthScheme;
  detects(input: AuthenticationInput): boolean;
  authenticate(input: AuthenticationInput): Promise<AuthenticatedPrincipal>;
}

/**
 * Finds the principal a bearer token belongs to, or `undefined` for an unknown, inactive or
 * expired token. Implementations compare hashes (the token itself is never stored) and cache
 * within the bound that revocation allows.
 */
export type BearerTokenLookup = (token: string) => Promise<AuthenticatedPrincipal | undefined>;

// RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_TOKEN_LENGTH = 8192;

/** Extracts the token of an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const value = headers.authorization;
  // RFC 9110 §11.1: the scheme name is case-insensitive.
  if (value === undefined || value.length < 8 || value.slice(0, 7).toLowerCase() !== 'bearer ')
    return undefined;
  return value.slice(7).trim();
}

/**
 * Authenticates `Authorization: Bearer TOKEN` (RFC 6750) against a lookup function: endpoint
 * keys, SCIM tokens and aiam-issued JWTs each plug in their own lookup.
 *
 * @example
 * new BearerTokenAuthenticator(async (token) => (await keys.findByHash(hasher.hash(token)))?.principal)
 */
export class BearerTokenAuthenticator implements Authenticator {
  readonly scheme = 'bearer' as const;

  constructor(private readonly lookup: BearerTokenLookup) {}

  detects(input: AuthenticationInput): boolean {
    return bearerToken(input.headers) !== undefined;
  }

  async authenticate(input: AuthenticationInput): Promise<AuthenticatedPrincipal> {
    const token = bearerToken(input.headers);
    if (token === undefined) throw new AuthenticationError('no bearer token in the Authorization header');
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token)) {
      throw new AuthenticationError('malformed bearer token');
    }
    const principal = await this.lookup(token);
    if (principal === undefined) throw new AuthenticationError('unknown, inactive or expired bearer token');
    return principal;
  }
}
