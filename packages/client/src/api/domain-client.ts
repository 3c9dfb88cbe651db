import { z } from 'zod';
import { type ConfigClientOptions, type SignedTarget, sendSigned } from './config-client.js';
import { resolveCredentials } from './credentials.js';

const DomainSchema = z.object({
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
const ProfileSchema = z.object({
  domain: z.string(),
  name: z.string(),
  arn: z.string(),
  user: z.string(),
  executionRoleArn: z.string().nullable(),
  tags: z.record(z.string(), z.string()),
  version: z.number().int(),
});
const PresignedSchema = z.object({ url: z.string().url(), expiresAt: z.number().int() });
const SessionSchema = z.object({
  accessKeyId: z.string(),
  secretAccessKey: z.string(),
  sessionToken: z.string(),
  expiration: z.string(),
  assumedRoleArn: z.string(),
  sourceIdentity: z.string(),
});

/** A domain as the API returns it. */
export type Domain = z.infer<typeof DomainSchema>;
/** A domain user profile as the API returns it. */
export type UserProfile = z.infer<typeof ProfileSchema>;
/** A user profile's working credentials (the execution role, with the person as source identity). */
export type ProfileSession = z.infer<typeof SessionSchema>;

const seg = encodeURIComponent;

/**
 * The domain routes (`/api/v1/domains`, seed 004): domains, user profiles, console links and
 * profile sessions, signed with SigV4 like every aiam client call.
 *
 * @example
 * const { url } = await new DomainClient().presignedUrl('my-domain', 'alice');
 */
export class DomainClient {
  readonly #target: SignedTarget;

  constructor(options: ConfigClientOptions = {}) {
    const env = options.env ?? process.env;
    const creds = options.credentials;
    this.#target = {
      endpoint: (options.endpoint ?? env.AIAM_ENDPOINT ?? 'http://127.0.0.1:7477').replace(/\/+$/, ''),
      fetch: options.fetch ?? globalThis.fetch,
      region: options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
      credentials:
        typeof creds === 'function'
          ? creds
          : creds
            ? async () => creds
            : () => resolveCredentials({ env, ...options.credentialSources }),
    };
  }

  /** Every domain. */
  async listDomains(): Promise<Domain[]> {
    return z
      .object({ items: z.array(DomainSchema) })
      .parse(await sendSigned(this.#target, 'GET', '/api/v1/domains')).items;
  }
  /** A domain. */
  async getDomain(domain: string): Promise<Domain> {
    return DomainSchema.parse(await sendSigned(this.#target, 'GET', `/api/v1/domains/${seg(domain)}`));
  }
  /** A domain's user profiles. */
  async listUserProfiles(domain: string): Promise<UserProfile[]> {
    const answer = await sendSigned(this.#target, 'GET', `/api/v1/domains/${seg(domain)}/user-profiles`);
    return z.object({ items: z.array(ProfileSchema) }).parse(answer).items;
  }
  /** A single-use console link scoped to the domain and profile. */
  async presignedUrl(
    domain: string,
    profile: string,
    options: { expiresInSeconds?: number; sessionExpirationDurationInSeconds?: number } = {},
  ): Promise<z.infer<typeof PresignedSchema>> {
    const path = `/api/v1/domains/${seg(domain)}/user-profiles/${seg(profile)}/presigned-url`;
    return PresignedSchema.parse(await sendSigned(this.#target, 'POST', path, options));
  }
  /** The caller's own profile session (the caller must be the profile's person, from the domain's networks). */
  async startSession(
    domain: string,
    profile: string,
    options: { durationSeconds?: number } = {},
  ): Promise<ProfileSession> {
    const path = `/api/v1/domains/${seg(domain)}/user-profiles/${seg(profile)}/session`;
    return SessionSchema.parse(await sendSigned(this.#target, 'POST', path, options));
  }
}
