import { AiamError } from './errors.js';

/**
 * aiam's one resource-naming scheme. Every resource, principal and scope is an ARN, so one
 * grammar serves IAM policies, role-assignment scopes, audit records and the API:
 *
 *   S3 data           arn:aws:s3:::BUCKET            arn:aws:s3:::BUCKET/KEY
 *   IAM principals    arn:aws:iam::ACCOUNT:user/PATH/NAME   …:group/NAME   …:role/PATH/NAME
 *   role sessions     arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
 *   managed identity  arn:aiam:iam::ACCOUNT:managed-identity/NAME
 *                     (system-assigned: NAME is the owning resource's path, e.g.
 *                      workspace/ml/endpoint/online)
 *   ML resources      arn:aiam:ml::ACCOUNT:workspace/WS[/model/M[/version/V]]
 *                     arn:aiam:ml::ACCOUNT:workspace/WS/endpoint/E[/deployment/D]
 *                     arn:aiam:ml::ACCOUNT:domain/D[/user-profile/U]
 *
 * S3 and IAM keep AWS's exact forms so that policy documents written for AWS work verbatim.
 * The resource part is hierarchical, so a scope is a prefix: a role assignment at
 * `…:workspace/ws/model/m` covers `…:workspace/ws/model/m/version/1` (see `scopeContains`).
 */
export interface Arn {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

/** Thrown for a string that is not an ARN, or a shorthand path aiam cannot place. */
export class InvalidResourceNameError extends AiamError {
  constructor(message: string) {
    super('ERR_INVALID_RESOURCE_NAME', message);
  }
}

/** Splits an ARN into its six parts; returns undefined for anything that is not one. */
export function parseArn(value: string): Arn | undefined {
  if (!value.startsWith('arn:')) return undefined;
  // The resource part may itself contain ':' (e.g. arn:aws:logs:...:log-group:x:*), so only the
  // first five separators delimit fields.
  const parts: string[] = [];
  let start = 4;
  for (let i = 0; i < 4; i++) {
    const next = value.indexOf(':', start);
    if (next < 0) return undefined;
    parts.push(value.slice(start, next));
    start = next + 1;
  }
  const [partition, service, region, account] = parts as [string, string, string, string];
  if (!partition || !service) return undefined;
  return { partition, service, region, account, resource: value.slice(start) };
}

/** Joins ARN parts. */
export function formatArn(arn: Arn): string {
  return `arn:${arn.partition}:${arn.service}:${arn.region}:${arn.account}:${arn.resource}`;
}

/** The ARN of an S3 bucket, or of an object in it when `key` is given. */
export function s3Arn(bucket: string, key?: string): string {
  return key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${key}`;
}

/** The ARN of an aiam ML resource from its path, e.g. `workspace/ws/model/m/version/1`. */
export function mlArn(account: string, path: string): string {
  return `arn:aiam:ml::${account}:${path}`;
}

/** The ARN of an IAM entity: `iamArn(acct, 'user', 'alice', '/eng/')`. */
export function iamArn(
  account: string,
  kind: 'user' | 'group' | 'role' | 'policy',
  name: string,
  path = '/',
): string {
  return `arn:aws:iam::${account}:${kind}${path}${name}`;
}

/** The ARN of a managed identity; for a system-assigned one `name` is its resource's path. */
export function managedIdentityArn(account: string, name: string): string {
  return `arn:aiam:iam::${account}:managed-identity/${name}`;
}

const ML_ROOTS = new Set(['workspace', 'domain']);
const IAM_ROOTS = new Set(['user', 'group', 'role', 'policy']);

/**
 * Turns a scope or principal written as a path (`workspace/ws/model/m/version/1`, `user/alice`,
 * `bucket/training-data/prefix`, `managed-identity/x`) into its ARN. Full ARNs and `*` pass
 * through unchanged.
 */
export function resolveResourcePath(account: string, pathOrArn: string): string {
  if (pathOrArn === '*' || pathOrArn.startsWith('arn:')) return pathOrArn;
  const path = pathOrArn.replace(/^\/+/, '');
  const root = path.split('/', 1)[0] ?? '';
  if (ML_ROOTS.has(root)) return mlArn(account, path);
  if (IAM_ROOTS.has(root)) {
    const rest = path.slice(root.length + 1);
    if (!rest) throw new InvalidResourceNameError(`"${pathOrArn}" names no ${root}; write ${root}/NAME`);
    return `arn:aws:iam::${account}:${path}`;
  }
  if (root === 'managed-identity') return `arn:aiam:iam::${account}:${path}`;
  if (root === 'bucket') {
    const rest = path.slice('bucket/'.length);
    if (!rest) throw new InvalidResourceNameError(`"${pathOrArn}" names no bucket; write bucket/NAME`);
    return `arn:aws:s3:::${rest}`;
  }
  throw new InvalidResourceNameError(
    `"${pathOrArn}" is neither an ARN nor a resource path; paths start with workspace/, domain/, ` +
      'user/, group/, role/, managed-identity/ or bucket/',
  );
}

/**
 * True when `resource` lies at or below `scope` in the hierarchy. The match is on whole path
 * segments: `…/model/m` contains `…/model/m/version/1` but not `…/model/m2`. `*` contains
 * everything; a scope ending in `/` or `:` is a plain prefix. ARNs are case-sensitive, as in AWS.
 */
export function scopeContains(scope: string, resource: string): boolean {
  if (scope === '*') return true;
  if (resource.length === scope.length) return resource === scope;
  if (!resource.startsWith(scope)) return false;
  const last = scope.charCodeAt(scope.length - 1);
  if (last === 0x2f /* / */ || last === 0x3a /* : */) return true;
  return resource.charCodeAt(scope.length) === 0x2f;
}
