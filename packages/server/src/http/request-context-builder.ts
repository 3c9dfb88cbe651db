import type { ContextValue, RequestContext } from '@aiam/policy';
import type { AuthenticatedPrincipal } from './authenticator.js';

/** The facts of one request that global condition keys are made of. */
export interface RequestFacts {
  readonly sourceIp: string;
  readonly secureTransport: boolean;
  /** When the request arrived, ms since the epoch (from the injected clock). */
  readonly receivedAt: number;
  readonly userAgent: string | undefined;
  readonly referer: string | undefined;
}

/**
 * Builds the engine's request context: the AWS global condition keys aiam sets for every
 * request (IAM User Guide, "AWS global condition context keys"), then the principal's own keys,
 * then the route's (`iam:PolicyARN`, `aws:RequestTag/…`). Later entries never overwrite the
 * global ones a caller could otherwise spoof: route keys may not start with `aws:Principal`,
 * `aws:Source`, `aws:Secure`, `aws:Current`, `aws:Epoch`, `aws:user`.
 */
export function buildRequestContext(
  facts: RequestFacts,
  who: AuthenticatedPrincipal,
  routeKeys?: Readonly<Record<string, ContextValue | undefined>>,
): RequestContext {
  const map = new Map<string, ContextValue>();
  if (routeKeys) {
    for (const key in routeKeys) {
      const value = routeKeys[key];
      const lower = key.toLowerCase();
      if (value === undefined || PROTECTED.test(lower)) continue;
      map.set(lower, value);
    }
  }
  if (who.context) for (const key in who.context) map.set(key.toLowerCase(), who.context[key]!);

  map.set('aws:sourceip', facts.sourceIp);
  map.set('aws:securetransport', facts.secureTransport);
  map.set('aws:currenttime', isoTime(facts.receivedAt));
  map.set('aws:epochtime', Math.floor(facts.receivedAt / 1000));
  if (facts.userAgent !== undefined) map.set('aws:useragent', facts.userAgent);
  if (facts.referer !== undefined) map.set('aws:referer', facts.referer);

  const p = who.principal;
  map.set('aws:principalarn', principalArnOf(who));
  map.set('aws:principalaccount', p.account);
  map.set('aws:principaltype', who.type);
  map.set('aws:userid', who.userId);
  // AWS sets aws:username only for IAM users.
  if (who.type === 'User' && who.userName !== undefined) map.set('aws:username', who.userName);
  if (who.tags) {
    for (const k of Object.keys(who.tags)) map.set(`aws:principaltag/${k.toLowerCase()}`, who.tags[k]!);
  }
  return map;
}

/**
 * `aws:PrincipalArn` of a role session is the role's ARN, not the session's (IAM User Guide,
 * "aws:PrincipalArn": "IAM role … arn:aws:iam::123456789012:role/role-name"; do not use the
 * assumed-role session ARN). The resolver lists the role in `identityArns`; without it, the role
 * is derived from `arn:aws:sts::ACCT:assumed-role/NAME/SESSION`.
 */
function principalArnOf(who: AuthenticatedPrincipal): string {
  const p = who.principal;
  if (who.type !== 'AssumedRole') return p.arn;
  const role = p.identityArns?.find((a) => /^arn:[^:]+:iam::[^:]*:role\//.test(a));
  if (role !== undefined) return role;
  const m = /^arn:([^:]+):sts::([^:]*):assumed-role\/([^/]+)\/[^/]*$/.exec(p.arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : p.arn;
}

const PROTECTED = /^aws:(principal|source|secure|current|epoch|user|referer|tokenissuetime|multifactor)/;

// Under load many requests arrive within the same millisecond: format each instant once.
let lastIsoMs = Number.NaN;
let lastIso = '';
function isoTime(ms: number): string {
  if (ms !== lastIsoMs) {
    lastIso = new Date(ms).toISOString();
    lastIsoMs = ms;
  }
  return lastIso;
}
