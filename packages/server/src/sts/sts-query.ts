import { InputError } from '../errors.js';
import type { AssumeRoleRequest, AssumeRoleWithWebIdentityRequest } from '../services/sts-service.js';

/** The STS actions aiam serves. */
export type StsAction = 'AssumeRole' | 'AssumeRoleWithWebIdentity' | 'GetCallerIdentity';

const ACTIONS: readonly StsAction[] = ['AssumeRole', 'AssumeRoleWithWebIdentity', 'GetCallerIdentity'];
/** The only API version of STS (the SDKs send it on every request). */
export const STS_VERSION = '2011-06-15';
// AWS Query protocol: lists are `Name.member.N` with N from 1; STS caps its lists well below this.
const MAX_MEMBERS = 100;

/**
 * Parameters of an STS Query request, from the form body (POST, as the SDKs send them) or the
 * query string (GET). A parameter present in both is refused: which one was signed and meant is
 * ambiguous.
 */
export function stsParameters(
  rawQuery: string,
  body: Buffer,
  contentType: string | undefined,
): URLSearchParams {
  const params = new URLSearchParams(rawQuery);
  // The SigV4 presign and signing parameters are authentication, not part of the API call.
  for (const k of [...params.keys()]) if (k.startsWith('X-Amz-')) params.delete(k);
  if (body.length === 0) return params;
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new InputError(
      `STS takes its parameters as application/x-www-form-urlencoded; got ${type || 'no Content-Type'}`,
      { code: 'InvalidParameterValue' },
    );
  }
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
    if (params.has(k))
      throw new InputError(`parameter ${k} is given twice`, { code: 'InvalidParameterValue' });
    params.append(k, v);
  }
  return params;
}

/** The `Action` of a request, checked against the actions aiam serves and `Version`. */
export function stsAction(params: URLSearchParams): StsAction {
  const action = params.get('Action');
  if (action === null) throw new InputError('the request has no Action parameter', { code: 'MissingAction' });
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new InputError(`Could not find operation ${action} for version ${STS_VERSION}`, {
      code: 'InvalidAction',
    });
  }
  const version = params.get('Version');
  if (version !== null && version !== STS_VERSION) {
    throw new InputError(`Could not find operation ${action} for version ${version}`, {
      code: 'InvalidAction',
    });
  }
  return action as StsAction;
}

/** AssumeRole's parameters in the service's form. */
export function parseAssumeRole(params: URLSearchParams): AssumeRoleRequest {
  const tags = tagList(params);
  const policyArns = members(params, 'PolicyArns', '.arn');
  const transitive = members(params, 'TransitiveTagKeys', '');
  return {
    roleArn: required(params, 'RoleArn', 20, 2048),
    roleSessionName: required(params, 'RoleSessionName', 2, 64),
    ...optionalDuration(params),
    ...optional(params, 'Policy', 1, 100_000, 'policy'),
    ...(policyArns.length ? { policyArns } : {}),
    ...(tags ? { tags } : {}),
    ...(transitive.length ? { transitiveTagKeys: transitive } : {}),
    ...optional(params, 'SourceIdentity', 2, 64, 'sourceIdentity'),
    ...optional(params, 'ExternalId', 2, 1224, 'externalId'),
  };
}

/** AssumeRoleWithWebIdentity's parameters in the service's form. */
export function parseAssumeRoleWithWebIdentity(params: URLSearchParams): AssumeRoleWithWebIdentityRequest {
  const policyArns = members(params, 'PolicyArns', '.arn');
  return {
    roleArn: required(params, 'RoleArn', 20, 2048),
    roleSessionName: required(params, 'RoleSessionName', 2, 64),
    webIdentityToken: required(params, 'WebIdentityToken', 4, 20_000),
    ...optionalDuration(params),
    ...optional(params, 'Policy', 1, 100_000, 'policy'),
    ...(policyArns.length ? { policyArns } : {}),
  };
}

function required(params: URLSearchParams, name: string, min: number, max: number): string {
  const value = params.get(name);
  if (value === null || value === '')
    throw new InputError(`The request must contain the parameter ${name}`, { code: 'MissingParameter' });
  checkLength(name, value, min, max);
  return value;
}

function optional<K extends string>(
  params: URLSearchParams,
  name: string,
  min: number,
  max: number,
  key: K,
): { [P in K]?: string } {
  const value = params.get(name);
  if (value === null) return {};
  checkLength(name, value, min, max);
  return { [key]: value } as { [P in K]?: string };
}

function checkLength(name: string, value: string, min: number, max: number): void {
  if (value.length < min || value.length > max) {
    throw new InputError(
      `1 validation error detected: Value at '${name.charAt(0).toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must have length between ${min} and ${max}`,
      { code: 'ValidationError' },
    );
  }
}

function optionalDuration(params: URLSearchParams): { durationSeconds?: number } {
  const raw = params.get('DurationSeconds');
  if (raw === null) return {};
  if (!/^\d{1,6}$/.test(raw))
    throw new InputError(`DurationSeconds must be a whole number of seconds; got "${raw}"`, {
      code: 'ValidationError',
    });
  return { durationSeconds: Number(raw) };
}

/** `Name.member.N{suffix}` values in N order; a gap in the numbering is refused. */
function members(params: URLSearchParams, name: string, suffix: string): string[] {
  const found = new Map<number, string>();
  const pattern = new RegExp(`^${name}\\.member\\.(\\d{1,3})${suffix.replace('.', '\\.')}$`);
  for (const [k, v] of params) {
    const m = pattern.exec(k);
    if (!m) {
      if (k.startsWith(`${name}.`))
        throw new InputError(`unknown parameter ${k}; lists are sent as ${name}.member.N${suffix}`, {
          code: 'InvalidParameterValue',
        });
      continue;
    }
    found.set(Number(m[1]), v);
  }
  return ordered(found, name);
}

function ordered(found: Map<number, string>, name: string): string[] {
  if (found.size > MAX_MEMBERS)
    throw new InputError(`${name} has ${found.size} members; at most ${MAX_MEMBERS}`, {
      code: 'ValidationError',
    });
  const out: string[] = [];
  for (let i = 1; i <= found.size; i++) {
    const v = found.get(i);
    if (v === undefined)
      throw new InputError(`${name}.member.${i} is missing; members are numbered from 1 without gaps`, {
        code: 'InvalidParameterValue',
      });
    out.push(v);
  }
  return out;
}

/** `Tags.member.N.Key` / `.Value` pairs as a record, or undefined when none are given. */
function tagList(params: URLSearchParams): Record<string, string> | undefined {
  const keys = new Map<number, string>();
  const values = new Map<number, string>();
  for (const [k, v] of params) {
    const m = /^Tags\.member\.(\d{1,3})\.(Key|Value)$/.exec(k);
    if (!m) {
      if (k.startsWith('Tags.'))
        throw new InputError(`unknown parameter ${k}; tags are sent as Tags.member.N.Key and .Value`, {
          code: 'InvalidParameterValue',
        });
      continue;
    }
    (m[2] === 'Key' ? keys : values).set(Number(m[1]), v);
  }
  if (keys.size === 0 && values.size === 0) return undefined;
  const names = ordered(keys, 'Tags');
  const tags: Record<string, string> = {};
  names.forEach((key, i) => {
    const value = values.get(i + 1);
    if (value === undefined)
      throw new InputError(`Tags.member.${i + 1}.Value is missing`, { code: 'InvalidParameterValue' });
    if (Object.hasOwn(tags, key))
      throw new InputError(`session tag "${key}" is given twice`, { code: 'ValidationError' });
    tags[key] = value;
  });
  if (values.size !== keys.size)
    throw new InputError('every Tags.member.N.Value needs its Key', { code: 'InvalidParameterValue' });
  return tags;
}
