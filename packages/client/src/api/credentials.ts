import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AiamError } from '@aiam/policy';
import type { AwsCredentials } from './sigv4-signer.js';

/** No credentials could be found, or a credentials file is unusable. */
export class CredentialsError extends AiamError {
  constructor(message: string) {
    super('ERR_NO_CREDENTIALS', message);
  }
}

/** Where {@link resolveCredentials} looks. */
export interface CredentialSources {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads a file; resolves undefined when it does not exist. Default: the file system. */
  readonly readTextFile?: (path: string) => Promise<string | undefined>;
  /** A profile to use instead of AWS_PROFILE. */
  readonly profile?: string;
}

/** Parses an AWS shared-credentials (INI) file into profiles. */
export function parseSharedCredentials(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      section = out[header[1]!] ?? {};
      out[header[1]!] = section;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0 && section) section[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return out;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Finds credentials the way the AWS CLI and SDKs do: `AWS_ACCESS_KEY_ID` and
 * `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`) first; otherwise the profile
 * (`AWS_PROFILE`, default `default`) of the shared credentials file
 * (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`).
 */
export async function resolveCredentials(sources: CredentialSources = {}): Promise<AwsCredentials> {
  const env = sources.env ?? process.env;
  const id = env.AWS_ACCESS_KEY_ID;
  const secret = env.AWS_SECRET_ACCESS_KEY;
  if (id && secret)
    return {
      accessKeyId: id,
      secretAccessKey: secret,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  if (id || secret)
    throw new CredentialsError('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together');
  const file = env.AWS_SHARED_CREDENTIALS_FILE || join(env.HOME || homedir(), '.aws', 'credentials');
  const profile = sources.profile ?? (env.AWS_PROFILE || 'default');
  const text = await (sources.readTextFile ?? readIfExists)(file);
  if (text === undefined) {
    throw new CredentialsError(
      `no credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE (for a fresh server: DATA_DIR/bootstrap-credentials); ${file} does not exist`,
    );
  }
  const section = parseSharedCredentials(text)[profile];
  const key = section?.aws_access_key_id;
  const secretKey = section?.aws_secret_access_key;
  if (!key || !secretKey)
    throw new CredentialsError(
      `profile "${profile}" of ${file} has no aws_access_key_id and aws_secret_access_key`,
    );
  return {
    accessKeyId: key,
    secretAccessKey: secretKey,
    ...(section.aws_session_token ? { sessionToken: section.aws_session_token } : {}),
  };
}
