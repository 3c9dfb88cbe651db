import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from 'jose';
import { type Clock, systemClock } from '../clock.js';
import { InputError } from '../errors.js';
import { TokenError } from './identity-errors.js';
import { tokenErrorFrom } from './oidc-signing-keys.js';

/** An external OIDC issuer aiam trusts (a CI system, a Kubernetes cluster, an IdP). */
export interface TrustedIssuer {
  /** Exactly the `iss` its tokens carry. */
  readonly issuer: string;
  /** Accepted `aud` values; at least one (a token for another audience is refused). */
  readonly audiences: readonly string[];
  /** Where to fetch its JWKS (fetched on first use, refetched on an unknown `kid`). */
  readonly jwksUri?: string;
  /** Its JWKS given inline (air-gapped clusters); used instead of `jwksUri`. */
  readonly jwks?: JSONWebKeySet;
  /** Accepted signature algorithms. Default RS256 and ES256, the ones issuers use. */
  readonly algorithms?: readonly string[];
  /** Allowed clock difference for exp/nbf/iat, in seconds. Default 60. */
  readonly clockToleranceSeconds?: number;
}

/** A verified external token. */
export interface ExternalIdentity {
  readonly issuer: string;
  readonly subject: string;
  readonly payload: JWTPayload;
}

/** The fetch used for remote JWKS; injectable for tests and for proxies. */
export type JwksFetch = (url: string, options: RequestInit) => Promise<Response>;

/**
 * Verifies JWTs from trusted external issuers against their JWKS, checking `iss`, `aud`, `exp`
 * and `nbf` with a small clock tolerance. Used by `AssumeRoleWithWebIdentity` and federation.
 *
 * The issuer is read from the unverified token only to choose which issuer's keys to try; the
 * verification then requires that same `iss`, so a token cannot pick keys other than its own
 * issuer's. Tokens from issuers not configured here are refused.
 */
export class ExternalTokenVerifier {
  readonly #issuers = new Map<
    string,
    { config: TrustedIssuer; keys: ReturnType<typeof createLocalJWKSet> }
  >();
  readonly #clock: Clock;

  constructor(
    issuers: readonly TrustedIssuer[],
    options: { clock?: Clock; fetch?: JwksFetch; timeoutMs?: number } = {},
  ) {
    this.#clock = options.clock ?? systemClock;
    for (const config of issuers) {
      if (config.audiences.length === 0)
        throw new InputError(`Trusted issuer ${config.issuer} needs at least one audience.`);
      let keys: ReturnType<typeof createLocalJWKSet>;
      if (config.jwks !== undefined) {
        keys = createLocalJWKSet(config.jwks);
      } else if (config.jwksUri !== undefined) {
        const url = new URL(config.jwksUri);
        if (url.protocol !== 'https:' && url.hostname !== 'localhost' && url.hostname !== '127.0.0.1') {
          throw new InputError(
            `The JWKS of ${config.issuer} must be fetched over https; got ${config.jwksUri}.`,
          );
        }
        keys = createRemoteJWKSet(url, {
          timeoutDuration: options.timeoutMs ?? 5000,
          ...(options.fetch ? { [customFetch]: options.fetch } : {}),
        }) as unknown as ReturnType<typeof createLocalJWKSet>;
      } else {
        throw new InputError(`Trusted issuer ${config.issuer} needs a jwksUri or an inline jwks.`);
      }
      this.#issuers.set(config.issuer, { config, keys });
    }
  }

  /** Verifies a token from any trusted issuer. Throws a {@link TokenError}. */
  async verify(token: string): Promise<ExternalIdentity> {
    if (token.length > 16384) throw new TokenError('ERR_JWT_INVALID', `token of ${token.length} characters`);
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch (e) {
      throw tokenErrorFrom(e);
    }
    const trusted = iss === undefined ? undefined : this.#issuers.get(iss);
    if (trusted === undefined)
      throw new TokenError('ERR_JWT_UNTRUSTED_ISSUER', `issuer ${String(iss)} is not trusted`);
    const { config, keys } = trusted;
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: config.issuer,
        audience: [...config.audiences],
        algorithms: [...(config.algorithms ?? ['RS256', 'ES256'])],
        clockTolerance: config.clockToleranceSeconds ?? 60,
        currentDate: new Date(this.#clock.now()),
        requiredClaims: ['sub', 'exp'],
      });
      return { issuer: config.issuer, subject: payload.sub as string, payload };
    } catch (e) {
      // A failed fetch surfaces as a TypeError or AbortError, a non-200 answer as jose's generic error.
      const code = (e as { code?: unknown })?.code;
      if (
        e instanceof TypeError ||
        (e as { name?: string })?.name === 'AbortError' ||
        code === 'ERR_JOSE_GENERIC'
      ) {
        throw new TokenError(
          'ERR_JWKS_UNAVAILABLE',
          `JWKS of ${config.issuer} unavailable: ${(e as Error).message}`,
          { cause: e },
        );
      }
      throw tokenErrorFrom(e);
    }
  }
}
