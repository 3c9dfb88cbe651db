import {
  checkConditionValue,
  CONDITION_OPERATOR_NAMES,
  parseConditionOperator,
} from './condition-operators.js';
import type { PolicyKind } from './decision.js';
import { type Finding, type PathElement, PolicyValidationError } from './finding.js';
import {
  PRINCIPAL_TYPES,
  type ParsedPolicy,
  type PolicyCondition,
  type PolicyPrincipal,
  type PolicyStatement,
  type PolicyVersion,
  type PrincipalType,
} from './policy-document.js';
import { parsePolicyTemplate } from './policy-variables.js';

/** Options for `parsePolicy`. */
export interface ParsePolicyOptions {
  /**
   * What the document is for. Identity-like kinds (`identity`, `boundary`, `session`) must not
   * name a `Principal` and need `Resource`/`NotResource`; `resource` and `trust` policies need
   * `Principal`/`NotPrincipal`; trust policies need no `Resource`.
   */
  kind: PolicyKind;
  /** Largest accepted JSON text, in characters (default 1,048,576). */
  maxLength?: number;
}

/** What `parsePolicy` returns: the policy when there is no ERROR finding, and every finding. */
export interface ParsePolicyResult {
  policy?: ParsedPolicy;
  findings: Finding[];
}

const TOP_ELEMENTS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_ELEMENTS = new Set([
  'Sid',
  'Effect',
  'Principal',
  'NotPrincipal',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);
const VERSIONS = new Set<string>(['2012-10-17', '2008-10-17']);
const DEFAULT_MAX_LENGTH = 1024 * 1024;
/**
 * `prefix:name`. The prefix is a service (`aws`, `s3`) or, for web-identity and SAML federation,
 * the provider's host name, possibly with a path: `token.actions.githubusercontent.com:sub`,
 * `accounts.google.com:aud`, `oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE:sub`. AWS accepts these
 * keys in role trust policies:
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif
 */
const CONDITION_KEY = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?:\/[^\s:/]+)*:\S+$/;

type Path = readonly PathElement[];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

class Collector {
  readonly findings: Finding[] = [];

  error(issueCode: string, findingDetails: string, path: Path): void {
    this.findings.push({ findingType: 'ERROR', issueCode, findingDetails, path: [...path] });
  }
}

function key(path: Path, name: string): PathElement[] {
  return [...path, { value: name }];
}

function index(path: Path, i: number): PathElement[] {
  return [...path, { index: i }];
}

/** Reads "a string or a non-empty array of strings". */
function stringList(c: Collector, value: unknown, path: Path, element: string): string[] | undefined {
  const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : undefined;
  if (!list) {
    c.error(
      'DATA_TYPE_MISMATCH',
      `${element} must be a string or an array of strings, not ${describe(value)}.`,
      path,
    );
    return undefined;
  }
  const out: string[] = [];
  let ok = true;
  list.forEach((item, i) => {
    if (typeof item !== 'string') {
      c.error(
        'DATA_TYPE_MISMATCH',
        `Each ${element} entry must be a string, not ${describe(item)}.`,
        index(path, i),
      );
      ok = false;
    } else if (item === '') {
      c.error('DATA_TYPE_MISMATCH', `${element} entries must not be empty strings.`, index(path, i));
      ok = false;
    } else {
      out.push(item);
    }
  });
  return ok ? out : undefined;
}

function parseActions(c: Collector, value: unknown, path: Path, element: string): string[] | undefined {
  const list = stringList(c, value, path, element);
  if (!list) return undefined;
  if (list.length === 0) {
    c.error('MISSING_ACTION', `${element} must name at least one action.`, path);
    return undefined;
  }
  let ok = true;
  list.forEach((action, i) => {
    // An action is `service:Name` (either side may hold wildcards) or `*` alone.
    if (action !== '*' && !/^[A-Za-z0-9*?-]+:[^\s:]+$/.test(action)) {
      c.error(
        'INVALID_ACTION',
        `"${action}" is not an action: write service:Action, e.g. s3:GetObject.`,
        index(path, i),
      );
      ok = false;
    }
  });
  return ok ? list : undefined;
}

function parseResources(
  c: Collector,
  value: unknown,
  path: Path,
  element: string,
  version: PolicyVersion | undefined,
): string[] | undefined {
  const list = stringList(c, value, path, element);
  if (!list) return undefined;
  if (list.length === 0) {
    c.error('MISSING_RESOURCE', `${element} must name at least one resource (or "*").`, path);
    return undefined;
  }
  let ok = true;
  if (version === '2012-10-17') {
    list.forEach((resource, i) => {
      const t = parsePolicyTemplate(resource);
      if ('error' in t) {
        c.error(t.error.issueCode, t.error.message, index(path, i));
        ok = false;
      }
    });
  }
  return ok ? list : undefined;
}

function parsePrincipal(
  c: Collector,
  value: unknown,
  path: Path,
  element: string,
): PolicyPrincipal | undefined {
  if (value === '*') return '*';
  if (!isRecord(value)) {
    c.error(
      'INVALID_PRINCIPAL_FORMAT',
      `${element} must be "*" or an object such as {"AWS": "arn:aws:iam::123456789012:root"}, not ${typeof value === 'string' ? `"${value}"` : describe(value)}.`,
      path,
    );
    return undefined;
  }
  const out: { [K in PrincipalType]?: string[] } = {};
  let ok = true;
  const entries = Object.entries(value);
  if (entries.length === 0) {
    c.error('INVALID_PRINCIPAL_FORMAT', `${element} must name at least one principal.`, path);
    return undefined;
  }
  for (const [type, v] of entries) {
    const p = key(path, type);
    if (!(PRINCIPAL_TYPES as readonly string[]).includes(type)) {
      c.error(
        'INVALID_PRINCIPAL_KEY',
        `"${type}" is not a principal type: use ${PRINCIPAL_TYPES.join(', ')}.`,
        p,
      );
      ok = false;
      continue;
    }
    const list = stringList(c, v, p, element);
    if (!list) {
      ok = false;
      continue;
    }
    if (list.length === 0) {
      c.error('INVALID_PRINCIPAL_FORMAT', `${element}.${type} must name at least one principal.`, p);
      ok = false;
      continue;
    }
    if (type === 'AWS') {
      list.forEach((id, i) => {
        if (id !== '*' && !/^[0-9]{12}$/.test(id) && !id.startsWith('arn:')) {
          c.error(
            'INVALID_PRINCIPAL_FORMAT',
            `"${id}" is not an AWS principal: write "*", a 12-digit account id or an ARN.`,
            index(p, i),
          );
          ok = false;
        }
      });
    }
    out[type as PrincipalType] = list;
  }
  return ok ? out : undefined;
}

function parseCondition(
  c: Collector,
  value: unknown,
  path: Path,
  version: PolicyVersion | undefined,
): PolicyCondition | undefined {
  if (!isRecord(value)) {
    c.error('DATA_TYPE_MISMATCH', `Condition must be an object of operators, not ${describe(value)}.`, path);
    return undefined;
  }
  const out: Record<string, Record<string, string[]>> = {};
  let ok = true;
  for (const [opName, block] of Object.entries(value)) {
    const opPath = key(path, opName);
    const op = parseConditionOperator(opName);
    if (!op) {
      if (
        /^(ForAnyValue:|ForAllValues:)?NullIfExists$/.test(opName) ||
        /^For(Any|All)Values?:Null$/.test(opName)
      ) {
        c.error(
          'NULL_WITH_IF_EXISTS',
          `"${opName}" is not allowed: the Null operator takes neither IfExists nor a set operator.`,
          opPath,
        );
      } else {
        const lower = opName.toLowerCase();
        const near = CONDITION_OPERATOR_NAMES.find(
          (n) => lower.endsWith(n.toLowerCase()) || lower.endsWith(`${n.toLowerCase()}ifexists`),
        );
        c.error(
          'INVALID_CONDITION_OPERATOR',
          `"${opName}" is not a condition operator${near ? ` (did you mean ${near}? operator names are case-sensitive)` : ''}.`,
          opPath,
        );
      }
      ok = false;
      continue;
    }
    if (!isRecord(block)) {
      c.error(
        'DATA_TYPE_MISMATCH',
        `${opName} must map condition keys to values, not ${describe(block)}.`,
        opPath,
      );
      ok = false;
      continue;
    }
    const keys: Record<string, string[]> = {};
    const seen = new Map<string, string>();
    for (const [condKey, raw] of Object.entries(block)) {
      const keyPath = key(opPath, condKey);
      if (!CONDITION_KEY.test(condKey)) {
        c.error(
          'INVALID_CONDITION_KEY_FORMAT',
          `"${condKey}" is not a condition key: write prefix:name, e.g. aws:SourceIp.`,
          keyPath,
        );
        ok = false;
        continue;
      }
      const lower = condKey.toLowerCase();
      const prior = seen.get(lower);
      if (prior !== undefined) {
        // Condition keys are case-insensitive, so "aws:SourceIp" and "aws:sourceip" are one key twice.
        c.error(
          'DUPLICATE_KEYS_WITH_DIFFERENT_CASE',
          `"${condKey}" repeats "${prior}" (condition keys are case-insensitive).`,
          keyPath,
        );
        ok = false;
        continue;
      }
      seen.set(lower, condKey);
      const list =
        typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? [raw] : raw;
      if (!Array.isArray(list) || list.length === 0) {
        c.error(
          'DATA_TYPE_MISMATCH',
          `The values of ${condKey} must be a string, number, boolean or a non-empty array of them.`,
          keyPath,
        );
        ok = false;
        continue;
      }
      const values: string[] = [];
      list.forEach((item: unknown, i: number) => {
        if (typeof item === 'number' && Number.isFinite(item)) values.push(String(item));
        else if (typeof item === 'boolean') values.push(String(item));
        else if (typeof item === 'string') {
          const hasVar = version === '2012-10-17' && item.includes('${');
          if (hasVar) {
            const t = parsePolicyTemplate(item);
            if ('error' in t) {
              c.error(t.error.issueCode, t.error.message, index(keyPath, i));
              ok = false;
              return;
            }
          } else {
            const problem = checkConditionValue(op, item);
            if (problem) {
              c.error('DATA_TYPE_MISMATCH', problem, index(keyPath, i));
              ok = false;
              return;
            }
          }
          values.push(item);
        } else {
          c.error(
            'DATA_TYPE_MISMATCH',
            `A condition value must be a string, number or boolean, not ${describe(item)}.`,
            index(keyPath, i),
          );
          ok = false;
        }
      });
      keys[condKey] = values;
    }
    out[opName] = keys;
  }
  return ok ? out : undefined;
}

function parseStatement(
  c: Collector,
  value: unknown,
  path: Path,
  kind: PolicyKind,
  version: PolicyVersion | undefined,
): PolicyStatement | undefined {
  if (!isRecord(value)) {
    c.error('DATA_TYPE_MISMATCH', `A statement must be an object, not ${describe(value)}.`, path);
    return undefined;
  }
  const before = c.findings.length;
  for (const name of Object.keys(value)) {
    if (!STATEMENT_ELEMENTS.has(name)) {
      const near = [...STATEMENT_ELEMENTS].find((e) => e.toLowerCase() === name.toLowerCase());
      c.error(
        'INVALID_POLICY_ELEMENT',
        `"${name}" is not a statement element${near ? ` (element names are case-sensitive: write ${near})` : ''}.`,
        key(path, name),
      );
    }
  }
  const s: {
    -readonly [K in keyof PolicyStatement]: PolicyStatement[K];
  } = { effect: 'Allow' };
  if ('Sid' in value) {
    if (typeof value.Sid !== 'string')
      c.error('DATA_TYPE_MISMATCH', 'Sid must be a string.', key(path, 'Sid'));
    else s.sid = value.Sid;
  }
  if (!('Effect' in value))
    c.error('MISSING_EFFECT', 'The statement has no Effect: add "Effect": "Allow" or "Deny".', path);
  else if (value.Effect !== 'Allow' && value.Effect !== 'Deny') {
    c.error(
      'INVALID_EFFECT',
      `Effect must be "Allow" or "Deny" (case-sensitive), not ${JSON.stringify(value.Effect)}.`,
      key(path, 'Effect'),
    );
  } else s.effect = value.Effect;

  const pair = (a: string, b: string): void => {
    if (a in value && b in value) {
      c.error(
        'UNSUPPORTED_ELEMENT_COMBINATION',
        `A statement can't have both ${a} and ${b}: keep one.`,
        key(path, b),
      );
    }
  };
  pair('Action', 'NotAction');
  pair('Resource', 'NotResource');
  pair('Principal', 'NotPrincipal');

  if ('Action' in value) s.action = parseActions(c, value.Action, key(path, 'Action'), 'Action');
  if ('NotAction' in value)
    s.notAction = parseActions(c, value.NotAction, key(path, 'NotAction'), 'NotAction');
  if (!('Action' in value) && !('NotAction' in value)) {
    c.error('MISSING_ACTION', 'The statement has no Action or NotAction.', path);
  }
  if ('Resource' in value)
    s.resource = parseResources(c, value.Resource, key(path, 'Resource'), 'Resource', version);
  if ('NotResource' in value) {
    s.notResource = parseResources(c, value.NotResource, key(path, 'NotResource'), 'NotResource', version);
  }
  const identityLike = kind !== 'resource' && kind !== 'trust';
  if (!('Resource' in value) && !('NotResource' in value) && kind !== 'trust') {
    c.error('MISSING_RESOURCE', `A ${kind} policy statement needs Resource or NotResource.`, path);
  }
  const hasPrincipal = 'Principal' in value || 'NotPrincipal' in value;
  if (identityLike && hasPrincipal) {
    c.error(
      'UNSUPPORTED_PRINCIPAL',
      `A ${kind} policy can't name a Principal: it applies to whoever it is attached to.`,
      key(path, 'Principal' in value ? 'Principal' : 'NotPrincipal'),
    );
  } else if (!identityLike && !hasPrincipal) {
    c.error('MISSING_PRINCIPAL', `A ${kind} policy statement needs Principal or NotPrincipal.`, path);
  } else if (!identityLike) {
    if ('Principal' in value)
      s.principal = parsePrincipal(c, value.Principal, key(path, 'Principal'), 'Principal');
    if ('NotPrincipal' in value) {
      s.notPrincipal = parsePrincipal(c, value.NotPrincipal, key(path, 'NotPrincipal'), 'NotPrincipal');
    }
  }
  if ('Condition' in value) s.condition = parseCondition(c, value.Condition, key(path, 'Condition'), version);
  if (c.findings.length !== before) return undefined;
  for (const k of Object.keys(s) as (keyof PolicyStatement)[]) if (s[k] === undefined) delete s[k];
  return s;
}

function parseDocument(c: Collector, doc: unknown, options: ParsePolicyOptions): ParsedPolicy | undefined {
  if (!isRecord(doc)) {
    c.error('JSON_SYNTAX_ERROR', `A policy document must be a JSON object, not ${describe(doc)}.`, []);
    return undefined;
  }
  for (const name of Object.keys(doc)) {
    if (!TOP_ELEMENTS.has(name)) {
      c.error('INVALID_POLICY_ELEMENT', `"${name}" is not a policy element: use Version, Id and Statement.`, [
        { value: name },
      ]);
    }
  }
  let version: PolicyVersion | undefined;
  if ('Version' in doc) {
    if (typeof doc.Version === 'string' && VERSIONS.has(doc.Version)) version = doc.Version as PolicyVersion;
    else {
      c.error(
        'INVALID_VERSION',
        `Version must be "2012-10-17" (or the legacy "2008-10-17"), not ${JSON.stringify(doc.Version)}.`,
        [{ value: 'Version' }],
      );
    }
  }
  let id: string | undefined;
  if ('Id' in doc) {
    if (typeof doc.Id === 'string') id = doc.Id;
    else c.error('DATA_TYPE_MISMATCH', 'Id must be a string.', [{ value: 'Id' }]);
  }
  if (!('Statement' in doc)) {
    c.error('MISSING_STATEMENT', 'The policy has no Statement.', []);
    return undefined;
  }
  const raw = doc.Statement;
  const list = Array.isArray(raw) ? raw : [raw];
  const base: PathElement[] = [{ value: 'Statement' }];
  if (list.length === 0) {
    c.error('MISSING_STATEMENT', 'Statement is empty: add at least one statement.', base);
    return undefined;
  }
  const statements: PolicyStatement[] = [];
  const sids = new Map<string, number>();
  list.forEach((item, i) => {
    const path = Array.isArray(raw) ? index(base, i) : base;
    const s = parseStatement(c, item, path, options.kind, version);
    if (s) statements.push(s);
    if (s?.sid !== undefined) {
      const first = sids.get(s.sid);
      if (first !== undefined) {
        c.error(
          'UNIQUE_SIDS_REQUIRED',
          `Sid "${s.sid}" is already used by statement ${first}: statement ids must be unique.`,
          key(path, 'Sid'),
        );
      } else sids.set(s.sid, i);
    }
  });
  if (c.findings.some((f) => f.findingType === 'ERROR')) return undefined;
  const policy: { -readonly [K in keyof ParsedPolicy]: ParsedPolicy[K] } = { statements };
  if (version !== undefined) policy.version = version;
  if (id !== undefined) policy.id = id;
  return policy;
}

/**
 * Parses an IAM JSON policy (text, or an already-decoded JSON value) into its normalized form.
 * Grammar and structural problems become ERROR findings with Access Analyzer's issue codes
 * (JSON_SYNTAX_ERROR, INVALID_VERSION, MISSING_EFFECT, INVALID_EFFECT, MISSING_ACTION,
 * MISSING_RESOURCE, MISSING_PRINCIPAL, UNSUPPORTED_PRINCIPAL, UNSUPPORTED_ELEMENT_COMBINATION,
 * INVALID_CONDITION_OPERATOR, UNIQUE_SIDS_REQUIRED, ...) and a JSON path; `policy` is set
 * only when there is none. It never throws. Best-practice checks (a missing Version, broad
 * grants, unknown actions) are the validator's, not the parser's.
 *
 * @example
 * const { policy, findings } = parsePolicy('{"Version":"2012-10-17","Statement":{...}}', { kind: 'identity' });
 */
export function parsePolicy(input: unknown, options: ParsePolicyOptions): ParsePolicyResult {
  const c = new Collector();
  try {
    let doc = input;
    if (typeof input === 'string') {
      const max = options.maxLength ?? DEFAULT_MAX_LENGTH;
      if (input.length > max) {
        // aiam's own code: a hard input limit, checked before parsing. Access Analyzer's
        // POLICY_SIZE_EXCEEDS_*_QUOTA checks are warnings about IAM's per-policy quotas.
        c.error(
          'POLICY_SIZE_EXCEEDED',
          `The policy is ${input.length} characters long; at most ${max} are accepted.`,
          [],
        );
        return { findings: c.findings };
      }
      try {
        doc = JSON.parse(input);
      } catch (err) {
        const message = err instanceof Error ? err.message : 'unreadable JSON';
        c.error('JSON_SYNTAX_ERROR', `The policy is not valid JSON: ${message}.`, []);
        return { findings: c.findings };
      }
    }
    const policy = parseDocument(c, doc, options);
    return policy ? { policy, findings: c.findings } : { findings: c.findings };
  } catch (err) {
    // Only reachable for exotic inputs (a getter that throws, a stack overflow on a hostile
    // object): report it as a finding, never as a crash.
    const message = err instanceof Error ? err.message : String(err);
    c.error('JSON_SYNTAX_ERROR', `The policy could not be read: ${message}.`, []);
    return { findings: c.findings };
  }
}

/** Like `parsePolicy`, but throws `PolicyValidationError` (with every finding) when invalid. */
export function parsePolicyOrThrow(input: unknown, options: ParsePolicyOptions): ParsedPolicy {
  const { policy, findings } = parsePolicy(input, options);
  if (!policy) throw new PolicyValidationError(findings);
  return policy;
}
