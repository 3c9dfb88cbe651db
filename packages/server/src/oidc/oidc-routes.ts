import { InputError } from '../errors.js';
import type { ProtectedRoute, PublicRoute, RouteDefinition } from '../http/route-table.js';
import type { OidcIssuer } from './oidc-issuer.js';

/** Where aiam serves its OIDC documents and token endpoint. */
export const OIDC_PATHS = {
  discovery: '/.well-known/openid-configuration',
  jwks: '/.well-known/jwks.json',
  token: '/oauth2/token',
} as const;

/** Options of {@link oidcRoutes}. */
export interface OidcRoutesOptions {
  /** The issuer (a function: it is known once the server listens). */
  readonly issuer: () => OidcIssuer | Promise<OidcIssuer>;
  /** Audience of tokens when the request names none: STS's, for AssumeRoleWithWebIdentity. */
  readonly defaultAudience?: string;
  /** Longest lifetime a caller may ask for (seconds; default and cap 3600). */
  readonly maxTtlSeconds?: number;
}

const AUDIENCE = /^[\x21-\x7e]{1,256}$/;

/**
 * aiam's OIDC issuer surface: the discovery document (OpenID Connect Discovery 1.0 §3), the
 * JWKS (RFC 7517; public keys only, retired keys included until their tokens expire), and a
 * token endpoint where an authenticated caller (SigV4 with its access key or temporary
 * credentials, or a bearer key) obtains an aiam JWT whose `sub` is its own ARN — what a
 * workload presents to AssumeRoleWithWebIdentity or to a service that trusts aiam. The grant is
 * RFC 6749 §4.4 `client_credentials`, with the request signature as the client authentication;
 * obtaining a token is decided like any action (`sts:GetWebIdentityToken` on the caller itself).
 */
export function oidcRoutes(options: OidcRoutesOptions): RouteDefinition[] {
  const defaultAudience = options.defaultAudience ?? 'sts.amazonaws.com';
  const maxTtl = options.maxTtlSeconds ?? 3600;
  const discovery: PublicRoute = {
    method: 'GET',
    path: OIDC_PATHS.discovery,
    auth: 'none-public',
    publicReason:
      'OIDC discovery: relying parties read it before they hold any credential; it holds no secret',
    name: 'OIDC discovery',
    handle: async () => {
      const { keys } = await options.issuer();
      const base = keys.issuer.replace(/\/+$/, '');
      return {
        status: 200,
        headers: { 'cache-control': 'public, max-age=300' },
        body: {
          issuer: keys.issuer,
          jwks_uri: `${base}${OIDC_PATHS.jwks}`,
          token_endpoint: `${base}${OIDC_PATHS.token}`,
          grant_types_supported: ['client_credentials'],
          token_endpoint_auth_methods_supported: ['aws_sigv4'],
          response_types_supported: ['id_token'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['ES256'],
          claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'principal_type'],
        },
      };
    },
  };
  const jwks: PublicRoute = {
    method: 'GET',
    path: OIDC_PATHS.jwks,
    auth: 'none-public',
    publicReason:
      'JWKS: verifiers of aiam tokens fetch the public keys without credentials; private parts are never included',
    name: 'OIDC JWKS',
    handle: async () => {
      const { keys } = await options.issuer();
      // Short caching: a verifier that meets an unknown kid refetches anyway (jose does).
      return { status: 200, headers: { 'cache-control': 'public, max-age=300' }, body: keys.jwks() };
    },
  };
  const token: ProtectedRoute = {
    method: 'POST',
    path: OIDC_PATHS.token,
    auth: ['sigv4', 'bearer'],
    action: 'sts:GetWebIdentityToken',
    resource: (_req, caller) => caller.principal.arn,
    maxBodyBytes: 8 * 1024,
    name: 'OIDC token',
    handle: async (req) => {
      const form = tokenRequest(req.body, req.headers['content-type']);
      const grant = form.get('grant_type');
      if (grant !== 'client_credentials')
        throw new InputError(`grant_type must be client_credentials; got ${grant ?? 'none'}`, {
          code: 'unsupported_grant_type',
        });
      const audience = form.get('audience') ?? defaultAudience;
      if (!AUDIENCE.test(audience))
        throw new InputError('audience must be 1-256 printable characters', { code: 'invalid_request' });
      const raw = form.get('expires_in');
      const ttl = raw === null ? Math.min(900, maxTtl) : Number(raw);
      if (!Number.isInteger(ttl) || ttl < 60 || ttl > maxTtl)
        throw new InputError(`expires_in must be a whole number of seconds from 60 to ${maxTtl}`, {
          code: 'invalid_request',
        });
      const { keys } = await options.issuer();
      const issued = await keys.issue({
        subject: req.caller.principal.arn,
        audience,
        ttlSeconds: ttl,
        claims: { principal_type: req.caller.type },
      });
      // RFC 6749 §5.1: the token response is not cached.
      return {
        status: 200,
        headers: { pragma: 'no-cache' },
        body: {
          access_token: issued.token,
          token_type: 'Bearer',
          expires_in: ttl,
          issued_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        },
      };
    },
  };
  return [discovery, jwks, token];
}

function tokenRequest(body: Buffer, contentType: string | string[] | undefined): URLSearchParams {
  const type = String(contentType ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (body.length === 0) return new URLSearchParams();
  if (type === 'application/x-www-form-urlencoded') return new URLSearchParams(body.toString('utf8'));
  if (type === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch (cause) {
      throw new InputError('the token request is not valid JSON', { cause, code: 'invalid_request' });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new InputError('the token request must be a JSON object', { code: 'invalid_request' });
    const out = new URLSearchParams();
    for (const [k, v] of Object.entries(parsed)) if (v !== undefined && v !== null) out.set(k, String(v));
    return out;
  }
  throw new InputError('the token request must be application/x-www-form-urlencoded (RFC 6749 §4.4.2)', {
    code: 'invalid_request',
  });
}
