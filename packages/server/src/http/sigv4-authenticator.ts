import { sha256Hex } from '../identity/sigv4-canonical-request.js';
import type { SigV4Verifier } from '../identity/sigv4-verifier.js';
import type { AuthenticatedPrincipal, AuthenticationInput, Authenticator } from './authenticator.js';

/** What the SigV4 secret lookup returns besides the secret: who the key belongs to. */
export interface SigV4Identity {
  readonly identity: AuthenticatedPrincipal;
}

/**
 * Authenticates AWS Signature Version 4 requests (the `Authorization: AWS4-HMAC-SHA256 …` header
 * or a presigned query) through the identity folder's verifier. The control plane signs its
 * JSON bodies, so the payload hash is computed from the body already read; the S3 surface uses
 * its own streaming path and does not go through here.
 */
export class SigV4Authenticator implements Authenticator {
  readonly scheme = 'sigv4' as const;

  constructor(private readonly verifier: SigV4Verifier<SigV4Identity>) {}

  detects(input: AuthenticationInput): boolean {
    const auth = input.headers.authorization;
    if (auth !== undefined) return auth.startsWith('AWS4-');
    return input.rawQuery.includes('X-Amz-Algorithm=') || input.rawQuery.includes('x-amz-algorithm=');
  }

  async authenticate(input: AuthenticationInput): Promise<AuthenticatedPrincipal> {
    const verified = await this.verifier.verify({
      method: input.method,
      path: input.path,
      query: input.rawQuery,
      headers: input.headersDistinct,
      payloadHash: sha256Hex(input.body),
    });
    const identity = verified.principal.identity;
    // The credential actually used (an ASIA temporary key) is what the audit trail needs.
    return identity.credentialId === verified.accessKeyId
      ? identity
      : { ...identity, credentialId: verified.accessKeyId };
  }
}
