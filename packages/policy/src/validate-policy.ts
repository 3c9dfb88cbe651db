// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${key}.
import {
  type ConditionKeyType,
  findAction,
  findConditionKey,
  findService,
  isUnsupportedGlobalConditionKey,
  listActions,
  matchActions,
} from './catalog/catalog.js';
import { type ConditionFamily, parseConditionOperator } from './condition-operators.js';
import type { PolicyKind } from './decision.js';
import type { Finding, FindingType, PathElement } from './finding.js';
import { JsonSyntaxError, parseJsonSource } from './json-source.js';
import { parsePolicy } from './parse-policy.js';
import { wildcardMatch } from './wildcard-match.js';

/** The policy types of Access Analyzer's ValidatePolicy. */
export type ValidatePolicyType = 'IDENTITY_POLICY' | 'RESOURCE_POLICY' | 'SERVICE_CONTROL_POLICY';

/** Options for `validatePolicy`. */
export interface ValidatePolicyOptions {
  /** Default `IDENTITY_POLICY`. */
  policyType?: ValidatePolicyType;
  /**
   * The engine's finer kind, when the caller knows it (`trust` for a role trust policy,
   * `boundary`, `session`); it overrides the kind derived from `policyType`.
   */
  kind?: PolicyKind;
}

type Path = readonly PathElement[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string-or-array element as [value, path] pairs; non-strings are skipped (the parser reports them). */
function entries(value: unknown, path: Path): [string, PathElement[]][] {
  if (typeof value === 'string') return [[value, [...path]]];
  if (!Array.isArray(value)) return [];
  const out: [string, PathElement[]][] = [];
  value.forEach((v, i) => {
    if (typeof v === 'string') out.push([v, [...path, { index: i }]]);
  });
  return out;
}

function hasWildcard(text: string): boolean {
  return text.includes('*') || text.includes('?');
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

function closestAction(service: string, name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const a of listActions()) {
    if (a.service !== service) continue;
    const d = editDistance(a.name.toLowerCase(), `${service}:${name}`.toLowerCase());
    if (d < bestDistance) {
      best = a.name;
      bestDistance = d;
    }
  }
  return bestDistance <= 3 ? best : undefined;
}

// The partitions an aiam server answers to: AWS's (so documents written for AWS work verbatim)
// and aiam's own, for resources AWS has no name for.
const PARTITIONS = new Set(['aws', 'aiam', 'aws-cn', 'aws-us-gov']);
// S3 bucket names are global: AWS refuses a region or account in an S3 ARN.
const NO_ACCOUNT_SERVICES = new Set(['s3']);

function isPattern(text: string): boolean {
  return hasWildcard(text) || text.includes('${');
}

function templateRegex(template: string): RegExp {
  // `arn:${Partition}:ml::${Account}:workspace/${WorkspaceName}` -> one path segment per
  // placeholder, except names that may span segments (object keys, IAM paths).
  const resource = template.split(':').slice(5).join(':');
  let out = '';
  for (const part of resource.split(/(\$\{[A-Za-z]+\})/)) {
    if (part.startsWith('${')) out += /ObjectName|WithPath/.test(part) ? '.+' : '[^/]+';
    else out += part.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

type GlobToken = { lit: string } | { any: true; star: boolean; slash: boolean };

function templateTokens(template: string): GlobToken[] {
  const out: GlobToken[] = [];
  for (const part of template
    .split(':')
    .slice(5)
    .join(':')
    .split(/(\$\{[A-Za-z]+\})/)) {
    if (part.startsWith('${')) {
      const slash = /ObjectName|WithPath/.test(part);
      out.push({ any: true, star: false, slash }, { any: true, star: true, slash });
    } else {
      for (const c of part) out.push({ lit: c });
    }
  }
  return out;
}

function patternTokens(pattern: string): GlobToken[] {
  const out: GlobToken[] = [];
  // A policy variable may expand to anything: treat it as `*`.
  for (const part of pattern.split(/(\$\{[^}]*\})/)) {
    if (part.startsWith('${')) out.push({ any: true, star: true, slash: true });
    else
      for (const c of part) {
        if (c === '*') out.push({ any: true, star: true, slash: true });
        else if (c === '?') out.push({ any: true, star: false, slash: true });
        else out.push({ lit: c });
      }
  }
  return out;
}

function tokensMeet(a: GlobToken, b: GlobToken): boolean {
  if ('lit' in a && 'lit' in b) return a.lit === b.lit;
  if ('lit' in a) return (b as { slash: boolean }).slash || a.lit !== '/';
  if ('lit' in b) return a.slash || b.lit !== '/';
  return true; // some character other than "/" satisfies both
}

/**
 * True when some resource name matches both a resource type's template and a resource pattern
 * with globs: an emptiness check on the product of the two (tiny) automata.
 */
function templateMeetsPattern(template: string, pattern: string): boolean {
  const a = templateTokens(template);
  const b = patternTokens(pattern);
  const seen = new Set<number>();
  const stack: [number, number][] = [[0, 0]];
  const width = b.length + 1;
  while (stack.length > 0) {
    const [i, j] = stack.pop()!;
    if (seen.has(i * width + j)) continue;
    seen.add(i * width + j);
    if (i === a.length && j === b.length) return true;
    const ta = a[i];
    const tb = b[j];
    const starA = ta !== undefined && 'star' in ta && ta.star;
    const starB = tb !== undefined && 'star' in tb && tb.star;
    if (starA) stack.push([i + 1, j]);
    if (starB) stack.push([i, j + 1]);
    if (ta && tb && tokensMeet(ta, tb)) stack.push([starA ? i : i + 1, starB ? j : j + 1]);
  }
  return false;
}

/** Which condition-key types an operator family may compare without a type mismatch. */
const FAMILY_TYPES: Record<Exclude<ConditionFamily, 'Null'>, readonly ConditionKeyType[]> = {
  // AWS compares ARN keys with String operators too (StringLike on aws:PrincipalArn is common).
  String: ['String', 'ArrayOfString', 'ARN', 'ArrayOfARN'],
  Arn: ['ARN', 'ArrayOfARN'],
  Numeric: ['Numeric'],
  Date: ['Date'],
  Bool: ['Bool'],
  IpAddress: ['IPAddress'],
  Binary: ['Binary'],
};

function expectedFamily(type: ConditionKeyType): string {
  switch (type) {
    case 'String':
    case 'ArrayOfString':
      return 'String';
    case 'ARN':
    case 'ArrayOfARN':
      return 'Arn (or String)';
    case 'IPAddress':
      return 'IpAddress/NotIpAddress';
    default:
      return type;
  }
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

class Checker {
  readonly findings: Finding[] = [];

  add(findingType: FindingType, issueCode: string, findingDetails: string, path: Path): void {
    this.findings.push({ findingType, issueCode, findingDetails, path: [...path] });
  }

  checkActions(statement: Record<string, unknown>, base: Path, element: 'Action' | 'NotAction'): void {
    const list = entries(statement[element], [...base, { value: element }]);
    for (const [action, path] of list) {
      if (action === '*') continue;
      const colon = action.indexOf(':');
      if (colon <= 0) continue; // the parser reports malformed actions
      const service = action.slice(0, colon);
      const name = action.slice(colon + 1);
      if (hasWildcard(service)) {
        this.add(
          'SUGGESTION',
          'WILDCARD_IN_SERVICE_NAME',
          `"${action}" uses a wildcard in the service name; name the services (s3, iam, ml, ...) so the grant cannot grow when aiam adds one.`,
          path,
        );
        continue;
      }
      if (!findService(service)) {
        this.add(
          'WARNING',
          'UNSUPPORTED_SERVICE_IN_ACTION',
          `aiam serves no "${service}" service, so "${action}" never matches a request. aiam's services: ${['s3', 'iam', 'sts', 'ml', 'aiam', 'scim'].join(', ')} (see docs/actions.md).`,
          path,
        );
        continue;
      }
      if (hasWildcard(name)) {
        if (matchActions(action).length === 0) {
          this.add(
            'ERROR',
            'INVALID_ACTION',
            `"${action}" matches no ${service} action; see docs/actions.md for the list.`,
            path,
          );
        }
      } else if (!findAction(action)) {
        const hint = closestAction(service, name);
        this.add(
          'ERROR',
          'INVALID_ACTION',
          `The action ${action} does not exist.${hint ? ` Did you mean ${hint}?` : ''} See docs/actions.md for the ${service} actions.`,
          path,
        );
      }
    }
    // Suggestion: an entry that another entry of the same list already covers.
    for (const [action, path] of list) {
      if (hasWildcard(action) || !findAction(action)) continue;
      const cover = list.find(
        ([other, p]) =>
          p !== path && other.toLowerCase() !== action.toLowerCase() && wildcardMatch(other, action, true),
      );
      const dup = list.find(([other, p]) => p !== path && other.toLowerCase() === action.toLowerCase());
      if (cover) {
        this.add(
          'SUGGESTION',
          'REDUNDANT_ACTION',
          `"${action}" is already covered by "${cover[0]}" in this ${element}; remove it.`,
          path,
        );
      } else if (dup && list.indexOf(dup) < list.findIndex(([, p]) => p === path)) {
        this.add(
          'SUGGESTION',
          'REDUNDANT_ACTION',
          `"${action}" appears twice in this ${element}; remove one.`,
          path,
        );
      }
    }
  }

  checkResources(statement: Record<string, unknown>, base: Path, element: 'Resource' | 'NotResource'): void {
    const list = entries(statement[element], [...base, { value: element }]);
    for (const [resource, path] of list) this.checkArn(resource, path);
    for (const [resource, path] of list) {
      if (isPattern(resource)) continue;
      const cover = list.find(
        ([other, p]) => p !== path && other !== resource && wildcardMatch(other, resource),
      );
      if (cover) {
        this.add(
          'SUGGESTION',
          'REDUNDANT_RESOURCE',
          `"${resource}" is already covered by "${cover[0]}" in this ${element}; remove it.`,
          path,
        );
      }
    }
  }

  checkArn(resource: string, path: Path): void {
    if (resource === '*') return;
    if (!resource.startsWith('arn:')) {
      // A leading wildcard may stand for "arn:..." itself (`*/training/*`): AWS accepts it.
      if (resource.startsWith('*') || resource.startsWith('${')) return;
      this.add(
        'ERROR',
        'INVALID_ARN_PREFIX',
        `"${resource}" is not an ARN: a resource is "*" or starts with "arn:", e.g. arn:aws:s3:::bucket/key.`,
        path,
      );
      return;
    }
    const parts = resource.split(':');
    if (parts.length < 6) {
      this.add(
        'ERROR',
        'MISSING_ARN_FIELD',
        `"${resource}" has ${parts.length} of the 6 ARN fields (arn:partition:service:region:account:resource); an empty field still needs its ":".`,
        path,
      );
      return;
    }
    const [, partition = '', service = '', region = '', account = ''] = parts;
    const rest = parts.slice(5).join(':');
    if (!PARTITIONS.has(partition) && !isPattern(partition)) {
      this.add(
        'ERROR',
        'INVALID_PARTITION',
        `"${partition}" in "${resource}" is not a partition aiam knows; use aws (or aiam).`,
        path,
      );
    }
    if (service !== service.toLowerCase()) {
      this.add(
        'ERROR',
        'INVALID_ARN_SERVICE_CASE',
        `The service "${service}" of an ARN must be lowercase.`,
        path,
      );
      return;
    }
    const def = findService(service);
    if (!def) return; // other services' ARNs are fine in a policy; aiam just never sees them
    if (region !== '' && region !== '*') {
      this.add(
        'ERROR',
        'ARN_REGION_NOT_ALLOWED',
        `aiam's ${service} resources have no region: leave the region field of "${resource}" empty (arn:${partition}:${service}::ACCOUNT:...).`,
        path,
      );
    }
    if (NO_ACCOUNT_SERVICES.has(service)) {
      if (account !== '' && account !== '*') {
        this.add(
          'ERROR',
          'ARN_ACCOUNT_NOT_ALLOWED',
          `The service ${service} does not take an account ID in its ARNs (bucket names are global): write "arn:${partition}:${service}:::${rest}".`,
          path,
        );
      }
    } else if (
      !isPattern(account) &&
      !/^[0-9]{12}$/.test(account) &&
      // aiam's own partition also names accounts by a short slug (a self-hosted server's tenant).
      !(partition === 'aiam' && /^[a-z0-9][a-z0-9-]{0,62}$/.test(account))
    ) {
      this.add(
        'ERROR',
        'INVALID_ARN_ACCOUNT',
        `The account "${account}" in "${resource}" is not valid: give the 12-digit account ID (or "*").`,
        path,
      );
    }
    if (!isPattern(rest) && def.resourceTypes.length > 0) {
      if (!def.resourceTypes.some((t) => templateRegex(t.arn).test(rest))) {
        const forms = def.resourceTypes.map((t) => t.arn.split(':').slice(5).join(':')).join(', ');
        this.add(
          'ERROR',
          'INVALID_ARN_RESOURCE',
          `"${rest}" is not a ${service} resource; the resource part must have one of these forms: ${forms}.`,
          path,
        );
      }
    }
  }

  checkCondition(statement: Record<string, unknown>, base: Path, effect: unknown): void {
    const condition = statement.Condition;
    if (!isRecord(condition)) return;
    for (const [opName, block] of Object.entries(condition)) {
      const op = parseConditionOperator(opName);
      if (!op || !isRecord(block)) continue; // the parser reports both
      for (const [key, values] of Object.entries(block)) {
        const path: PathElement[] = [...base, { value: 'Condition' }, { value: opName }, { value: key }];
        const colon = key.indexOf(':');
        if (colon <= 0) continue; // INVALID_CONDITION_KEY_FORMAT, from the parser
        const prefix = key.slice(0, colon).toLowerCase();
        // A prefix with a dot or a slash is a federated identity provider's host name (an OIDC
        // issuer such as token.actions.githubusercontent.com, accounts.google.com, or an EKS
        // cluster's oidc.eks.REGION.amazonaws.com/id/ID). Its claims are whatever the provider
        // issues, so there is no catalog to check them against.
        // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif
        if (isFederatedProviderPrefix(prefix)) continue;
        const def = findConditionKey(key);
        if (!def) {
          if (prefix === 'aws') {
            if (isUnsupportedGlobalConditionKey(key)) {
              this.add(
                'WARNING',
                'UNSUPPORTED_GLOBAL_CONDITION_KEY',
                `aiam never sets ${key}, so this condition always sees it as missing${op.ifExists || op.family === 'Null' || op.negated ? '' : ' and never matches'}.`,
                path,
              );
            } else {
              this.add(
                'ERROR',
                'INVALID_GLOBAL_CONDITION_KEY',
                `The global condition key ${key} does not exist. See docs/actions.md for the keys aiam sets.`,
                path,
              );
            }
          } else if (findService(prefix)) {
            this.add(
              'ERROR',
              'INVALID_SERVICE_CONDITION_KEY',
              `The condition key ${key} does not exist in the ${prefix} service. See docs/actions.md for its keys.`,
              path,
            );
          }
          // Other prefixes: keys of trusted OIDC issuers (`token.actions.githubusercontent.com:sub`)
          // and of services aiam does not serve; nothing to check.
          continue;
        }
        if (op.family !== 'Null') {
          const allowed = FAMILY_TYPES[op.family];
          // aws:EpochTime is documented for both Date and Numeric operators.
          const epoch = def.name === 'aws:EpochTime' && op.family === 'Numeric';
          if (!allowed.includes(def.type) && !epoch) {
            this.add(
              'WARNING',
              'TYPE_MISMATCH',
              `${key} is of type ${def.type}, but ${opName} compares ${op.family} values: use a ${expectedFamily(def.type)} operator.`,
              path,
            );
          }
        }
        const multi = def.type.startsWith('ArrayOf');
        if (op.family !== 'Null' && !multi && op.setOperator) {
          const allowAll = op.setOperator === 'ForAllValues' && effect === 'Allow';
          this.add(
            allowAll ? 'SECURITY_WARNING' : 'WARNING',
            op.setOperator === 'ForAllValues'
              ? 'FORALLVALUES_WITH_SINGLE_VALUED_KEY'
              : 'FORANYVALUE_WITH_SINGLE_VALUED_KEY',
            `${key} is single-valued; ${op.setOperator} is for multivalued keys${allowAll ? ' and is true when the key is missing, so this Allow grants more than it appears to' : ''}. Remove the ${op.setOperator}: prefix.`,
            path,
          );
        } else if (op.family !== 'Null' && multi && !op.setOperator) {
          this.add(
            'WARNING',
            'MISSING_SET_OPERATOR_FOR_MULTIVALUED_KEY',
            `${key} can hold several values; say how to compare them with ForAnyValue:${op.base} or ForAllValues:${op.base}.`,
            path,
          );
        }
        void values;
      }
    }
  }

  /**
   * An Allow whose resources can never be of the type an action applies to grants nothing for
   * that action: the classic `s3:ListBucket` on `arn:aws:s3:::bucket/*` (objects, not the bucket).
   */
  checkActionResources(statement: Record<string, unknown>, base: Path): void {
    if (statement.Resource === undefined) return;
    const resources = entries(statement.Resource, []).map(([r]) => r);
    if (
      resources.length === 0 ||
      resources.some(
        (r) => r === '*' || !r.startsWith('arn:') || isPattern(r.split(':').slice(0, 5).join(':')),
      )
    ) {
      return;
    }
    for (const [action, path] of entries(statement.Action, [...base, { value: 'Action' }])) {
      if (hasWildcard(action)) continue;
      const def = findAction(action);
      if (!def || def.resourceTypes.length === 0) continue;
      const service = findService(def.service)!;
      const types = service.resourceTypes.filter((t) => def.resourceTypes.includes(t.name));
      const fits = resources.some((r) => {
        const parts = r.split(':');
        const rest = parts.slice(5).join(':');
        if (isPattern(rest)) {
          return types.some((t) => t.arn.split(':')[2] === parts[2] && templateMeetsPattern(t.arn, rest));
        }
        return types.some(
          (t) => t.arn.split(':')[2] === parts[2] && templateRegex(t.arn).test(parts.slice(5).join(':')),
        );
      });
      if (!fits) {
        this.add(
          'WARNING',
          'NO_RESOURCE_MATCHES_ACTION',
          `${def.name} applies to ${types.map((t) => `${t.name} (${t.arn})`).join(' or ')}, and no Resource of this statement is one, so the statement does nothing for it. Add a matching resource, e.g. ${types[0]!.arn}.`,
          path,
        );
      }
    }
  }

  checkStatement(statement: Record<string, unknown>, base: Path): void {
    const effect = statement.Effect;
    this.checkActions(statement, base, 'Action');
    this.checkActions(statement, base, 'NotAction');
    this.checkResources(statement, base, 'Resource');
    this.checkResources(statement, base, 'NotResource');
    this.checkCondition(statement, base, effect);
    if (statement.Sid === '') {
      this.add(
        'SUGGESTION',
        'EMPTY_SID_VALUE',
        'The Sid is empty: give the statement a name or remove the Sid.',
        [...base, { value: 'Sid' }],
      );
    }
    if (effect !== 'Allow') return;

    this.checkActionResources(statement, base);
    const actions = entries(statement.Action, []).map(([a]) => a);
    const resources = entries(statement.Resource, []).map(([r]) => r);
    const allResources = resources.includes('*');
    const hasNotResource = statement.NotResource !== undefined;
    const hasNotAction = statement.NotAction !== undefined;
    const at = (element: string): PathElement[] => [...base, { value: element }];

    if (actions.includes('*') && allResources) {
      this.add(
        'SECURITY_WARNING',
        'ALLOW_ALL_ACTIONS_ON_ALL_RESOURCES',
        'This statement allows every action on every resource ("Action": "*" with "Resource": "*"), i.e. full administrator access. Name the actions and resources the principal needs.',
        at('Action'),
      );
    }
    if (hasNotAction) {
      this.add(
        'SECURITY_WARNING',
        'ALLOW_WITH_NOT_ACTION',
        'Allow with NotAction grants every action not listed, including actions aiam adds later. List the allowed actions in Action instead.',
        at('NotAction'),
      );
    }
    if (hasNotResource) {
      this.add(
        'SECURITY_WARNING',
        'ALLOW_WITH_NOT_RESOURCE',
        'Allow with NotResource grants access to every resource not listed, including resources created later. List the allowed resources in Resource instead.',
        at('NotResource'),
      );
    }
    if (statement.NotPrincipal !== undefined) {
      this.add(
        'SECURITY_WARNING',
        'ALLOW_WITH_NOT_PRINCIPAL',
        'Allow with NotPrincipal grants access to every principal not listed, anonymous callers included. Name the principals in Principal instead.',
        at('NotPrincipal'),
      );
    }
    // iam:PassRole hands a role to a workload; on "*" the principal can pass any role,
    // including an administrator's, and so escalate its own privileges.
    const passRole = actions.filter((a) => wildcardMatch(a, 'iam:PassRole', true));
    const notActionsPassRole =
      hasNotAction && !entries(statement.NotAction, []).some(([a]) => wildcardMatch(a, 'iam:PassRole', true));
    // Access Analyzer's six PassRole checks, by how the statement reaches iam:PassRole (the
    // action itself, a wildcard action, or NotAction) and on what ("*" or NotResource).
    if (passRole.length > 0 || notActionsPassRole) {
      const starAction = passRole.some((a) => a.toLowerCase() !== 'iam:passrole');
      if (allResources) {
        this.add(
          'SECURITY_WARNING',
          notActionsPassRole
            ? 'PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION'
            : starAction
              ? 'PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE'
              : 'PASS_ROLE_WITH_STAR_IN_RESOURCE',
          'This statement allows iam:PassRole on "*", so the principal can pass any role, an administrator role included. Limit Resource to the roles it must pass, e.g. arn:aws:iam::123456789012:role/pipeline-*.',
          at('Resource'),
        );
      } else if (hasNotResource) {
        this.add(
          'SECURITY_WARNING',
          notActionsPassRole
            ? 'PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE'
            : starAction
              ? 'PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE'
              : 'PASS_ROLE_WITH_NOT_RESOURCE',
          'This statement allows iam:PassRole on every role not listed in NotResource. Name the roles the principal may pass in Resource instead.',
          at('NotResource'),
        );
      }
    }
  }
}

function statementList(doc: Record<string, unknown>): [Record<string, unknown>, PathElement[]][] {
  const s = doc.Statement;
  if (isRecord(s)) return [[s, [{ value: 'Statement' }]]];
  if (!Array.isArray(s)) return [];
  const out: [Record<string, unknown>, PathElement[]][] = [];
  s.forEach((st, i) => {
    if (isRecord(st)) out.push([st, [{ value: 'Statement' }, { index: i }]]);
  });
  return out;
}

function isFederatedProviderPrefix(prefix: string): boolean {
  return prefix.includes('.') || prefix.includes('/');
}

function kindFor(options: ValidatePolicyOptions): PolicyKind {
  if (options.kind) return options.kind;
  return options.policyType === 'RESOURCE_POLICY' ? 'resource' : 'identity';
}

/**
 * The checks `validatePolicy` adds to the parser's grammar errors, for documentation
 * (docs/actions.md). Codes are Access Analyzer's where it has the same check (reviewed against
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html);
 * the others are aiam's own (marked `aiam: true`): ALLOW_ALL_ACTIONS_ON_ALL_RESOURCES,
 * ALLOW_WITH_NOT_ACTION, ALLOW_WITH_NOT_RESOURCE, UNSUPPORTED_SERVICE_IN_ACTION,
 * FORANYVALUE_WITH_SINGLE_VALUED_KEY, MISSING_SET_OPERATOR_FOR_MULTIVALUED_KEY and
 * NO_RESOURCE_MATCHES_ACTION have no Access Analyzer equivalent.
 */
export const VALIDATION_CHECKS: readonly {
  issueCode: string;
  findingType: FindingType;
  summary: string;
  aiam?: true;
}[] = [
  {
    issueCode: 'JSON_SYNTAX_ERROR',
    findingType: 'ERROR',
    summary: 'The text is not JSON (with line and column).',
  },
  {
    issueCode: 'INVALID_ACTION',
    findingType: 'ERROR',
    summary: 'An action of an aiam service that does not exist.',
  },
  {
    issueCode: 'INVALID_ARN_PREFIX',
    findingType: 'ERROR',
    summary: 'A resource that is neither "*" nor an ARN.',
  },
  { issueCode: 'MISSING_ARN_FIELD', findingType: 'ERROR', summary: 'An ARN with fewer than six fields.' },
  {
    issueCode: 'INVALID_PARTITION',
    findingType: 'ERROR',
    summary: 'An ARN partition other than aws or aiam.',
  },
  { issueCode: 'INVALID_ARN_SERVICE_CASE', findingType: 'ERROR', summary: 'An ARN service in upper case.' },
  {
    issueCode: 'ARN_REGION_NOT_ALLOWED',
    findingType: 'ERROR',
    summary: 'A region in an ARN of an aiam service.',
  },
  { issueCode: 'ARN_ACCOUNT_NOT_ALLOWED', findingType: 'ERROR', summary: 'An account in an S3 ARN.' },
  {
    issueCode: 'INVALID_ARN_ACCOUNT',
    findingType: 'ERROR',
    summary: 'An account that is not a 12-digit ID.',
  },
  {
    issueCode: 'INVALID_ARN_RESOURCE',
    findingType: 'ERROR',
    summary: 'An ARN that names no resource type of its service.',
  },
  {
    issueCode: 'INVALID_GLOBAL_CONDITION_KEY',
    findingType: 'ERROR',
    summary: 'An aws: condition key that does not exist.',
  },
  {
    issueCode: 'INVALID_SERVICE_CONDITION_KEY',
    findingType: 'ERROR',
    summary: 'A condition key unknown to its aiam service.',
  },
  {
    issueCode: 'VARIABLE_UNSUPPORTED_IN_VERSION',
    findingType: 'ERROR',
    summary: 'Policy variables under Version 2008-10-17.',
  },
  {
    issueCode: 'ALLOW_ALL_ACTIONS_ON_ALL_RESOURCES',
    findingType: 'SECURITY_WARNING',
    summary: 'Allow "*" on "*".',
    aiam: true,
  },
  {
    issueCode: 'ALLOW_WITH_NOT_ACTION',
    findingType: 'SECURITY_WARNING',
    summary: 'Allow with NotAction.',
    aiam: true,
  },
  {
    issueCode: 'ALLOW_WITH_NOT_RESOURCE',
    findingType: 'SECURITY_WARNING',
    summary: 'Allow with NotResource.',
    aiam: true,
  },
  {
    issueCode: 'ALLOW_WITH_NOT_PRINCIPAL',
    findingType: 'SECURITY_WARNING',
    summary: 'Allow with NotPrincipal.',
  },
  {
    issueCode: 'PASS_ROLE_WITH_STAR_IN_RESOURCE',
    findingType: 'SECURITY_WARNING',
    summary: 'iam:PassRole on "*".',
  },
  {
    issueCode: 'PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE',
    findingType: 'SECURITY_WARNING',
    summary: 'A wildcard action covering iam:PassRole, on "*".',
  },
  {
    issueCode: 'PASS_ROLE_WITH_NOT_RESOURCE',
    findingType: 'SECURITY_WARNING',
    summary: 'iam:PassRole with NotResource.',
  },
  {
    issueCode: 'PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE',
    findingType: 'SECURITY_WARNING',
    summary: 'A wildcard action covering iam:PassRole, with NotResource.',
  },
  {
    issueCode: 'PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION',
    findingType: 'SECURITY_WARNING',
    summary: 'NotAction that leaves iam:PassRole allowed on "*".',
  },
  {
    issueCode: 'PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE',
    findingType: 'SECURITY_WARNING',
    summary: 'NotAction that leaves iam:PassRole allowed, with NotResource.',
  },
  {
    issueCode: 'FORALLVALUES_WITH_SINGLE_VALUED_KEY',
    findingType: 'SECURITY_WARNING',
    summary: 'ForAllValues on a single-valued key in an Allow (true when the key is missing).',
  },
  { issueCode: 'MISSING_VERSION', findingType: 'WARNING', summary: 'No Version element.' },
  {
    issueCode: 'UNSUPPORTED_SERVICE_IN_ACTION',
    findingType: 'WARNING',
    summary: 'An action of a service aiam does not serve.',
    aiam: true,
  },
  {
    // Access Analyzer reports this code as an ERROR for aws:ARN; aiam warns for every AWS key
    // it never sets (the condition then always sees a missing key).
    issueCode: 'UNSUPPORTED_GLOBAL_CONDITION_KEY',
    findingType: 'WARNING',
    summary: 'An AWS key aiam never sets.',
  },
  {
    issueCode: 'TYPE_MISMATCH',
    findingType: 'WARNING',
    summary: "An operator that does not fit the key's type.",
  },
  {
    issueCode: 'FORANYVALUE_WITH_SINGLE_VALUED_KEY',
    findingType: 'WARNING',
    summary: 'ForAnyValue on a single-valued key.',
    aiam: true,
  },
  {
    issueCode: 'MISSING_SET_OPERATOR_FOR_MULTIVALUED_KEY',
    findingType: 'WARNING',
    summary: 'A multivalued key without ForAnyValue/ForAllValues.',
    aiam: true,
  },
  {
    issueCode: 'NO_RESOURCE_MATCHES_ACTION',
    findingType: 'WARNING',
    summary: "No resource of the statement is of the action's resource types.",
    aiam: true,
  },
  {
    issueCode: 'WILDCARD_IN_SERVICE_NAME',
    findingType: 'SUGGESTION',
    summary: 'A wildcard in the service of an action.',
  },
  {
    issueCode: 'REDUNDANT_ACTION',
    findingType: 'SUGGESTION',
    summary: 'An action another entry already covers.',
  },
  {
    issueCode: 'REDUNDANT_RESOURCE',
    findingType: 'SUGGESTION',
    summary: 'A resource another entry already covers.',
  },
  {
    issueCode: 'REDUNDANT_STATEMENT',
    findingType: 'SUGGESTION',
    summary: 'A statement that repeats another.',
  },
  { issueCode: 'EMPTY_SID_VALUE', findingType: 'SUGGESTION', summary: 'An empty Sid.' },
];

const SEVERITY: Record<FindingType, number> = { ERROR: 0, SECURITY_WARNING: 1, WARNING: 2, SUGGESTION: 3 };

/**
 * Validates an IAM JSON policy document the way IAM Access Analyzer's ValidatePolicy does:
 * grammar errors from `parsePolicy`, then aiam's own checks against its action catalog
 * (unknown actions and condition keys, malformed ARNs, operator/key type mismatches), over-broad
 * grants (SECURITY_WARNING) and style suggestions. Never throws; an empty array means no
 * findings. Findings are ordered by type (errors first), then by position in the document.
 *
 * Issue codes are Access Analyzer's where it has one for the same problem (INVALID_ACTION,
 * MISSING_VERSION, PASS_ROLE_WITH_STAR_IN_RESOURCE, ...); `VALIDATION_CHECKS` lists them (and docs/actions.md).
 *
 * @example
 * validatePolicy('{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObjet","Resource":"*"}}')
 * // [{ findingType: 'ERROR', issueCode: 'INVALID_ACTION', path: [Statement, Action], ... }]
 */
export function validatePolicy(document: unknown, options: ValidatePolicyOptions = {}): Finding[] {
  let doc = document;
  if (typeof document === 'string') {
    try {
      doc = parseJsonSource(document.charCodeAt(0) === 0xfeff ? document.slice(1) : document).value;
    } catch (err) {
      const details =
        err instanceof JsonSyntaxError
          ? `Fix the JSON syntax error at line ${err.position.line}, column ${err.position.column}: ${err.message.replace(/ at line \d+, column \d+$/, '')}.`
          : 'The policy is not valid JSON.';
      return [{ findingType: 'ERROR', issueCode: 'JSON_SYNTAX_ERROR', findingDetails: details, path: [] }];
    }
  }
  const { findings: grammar } = parsePolicy(doc, { kind: kindFor(options) });
  const checker = new Checker();
  if (isRecord(doc)) {
    if (doc.Version === undefined) {
      checker.add(
        'WARNING',
        'MISSING_VERSION',
        'Add "Version": "2012-10-17". Without it the policy uses the 2008 language, where policy variables like ${aws:username} are literal text.',
        [],
      );
    } else if (doc.Version === '2008-10-17' && JSON.stringify(doc.Statement ?? null).includes('${')) {
      checker.add(
        'ERROR',
        'VARIABLE_UNSUPPORTED_IN_VERSION',
        'Policy variables (${...}) need "Version": "2012-10-17"; under 2008-10-17 they are literal text.',
        [{ value: 'Version' }],
      );
    }
    const statements = statementList(doc);
    const seen = new Map<string, number>();
    statements.forEach(([statement, path], i) => {
      checker.checkStatement(statement, path);
      const { Sid: _sid, ...rest } = statement;
      const key = canonical(rest);
      const first = seen.get(key);
      if (first !== undefined) {
        checker.add(
          'SUGGESTION',
          'REDUNDANT_STATEMENT',
          `This statement repeats statement ${first} (apart from its Sid); remove one of them.`,
          path,
        );
      } else {
        seen.set(key, i);
      }
    });
  }
  const out: Finding[] = [...grammar];
  const have = new Set(grammar.map((f) => `${f.issueCode} ${JSON.stringify(f.path)}`));
  for (const f of checker.findings) {
    const id = `${f.issueCode} ${JSON.stringify(f.path)}`;
    if (!have.has(id)) {
      have.add(id);
      out.push(f);
    }
  }
  // Stable sort: by severity, keeping document order within one severity.
  return out
    .map((f, i) => [f, i] as const)
    .sort(([a, i], [b, j]) => SEVERITY[a.findingType] - SEVERITY[b.findingType] || i - j)
    .map(([f]) => f);
}
