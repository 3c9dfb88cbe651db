import { AiamError } from './errors.js';

/**
 * A validation finding, in the shape of IAM Access Analyzer's ValidatePolicy findings:
 * https://docs.aws.amazon.com/access-analyzer/latest/APIReference/API_ValidatePolicyFinding.html
 */
export type FindingType = 'ERROR' | 'SECURITY_WARNING' | 'WARNING' | 'SUGGESTION';

/** One step of the JSON path to the offending part: an object key or an array index. */
export type PathElement = { value: string } | { index: number };

export interface Finding {
  findingType: FindingType;
  /** Stable issue code, e.g. `MISSING_VERSION`, `INVALID_ACTION`. */
  issueCode: string;
  /** What is wrong and what to do about it. */
  findingDetails: string;
  /** Where in the document: `[{value:'Statement'},{index:0},{value:'Action'}]`. */
  path: PathElement[];
}

/** Renders a finding path as `Statement[0].Action`, for people. */
export function formatFindingPath(path: readonly PathElement[]): string {
  let out = '';
  for (const el of path) {
    if ('index' in el) out += `[${el.index}]`;
    else out += out ? `.${el.value}` : el.value;
  }
  return out || '(document)';
}

/**
 * Thrown when a policy document is refused: it carries every ERROR finding, so the caller can
 * show them all at once rather than one per attempt.
 */
export class PolicyValidationError extends AiamError {
  readonly findings: Finding[];

  constructor(findings: Finding[], what = 'policy document') {
    const errors = findings.filter((f) => f.findingType === 'ERROR');
    const first = errors[0] ?? findings[0];
    const summary = first ? `${formatFindingPath(first.path)}: ${first.findingDetails}` : 'invalid';
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error(s))` : '';
    super('ERR_POLICY_INVALID', `Invalid ${what}: ${summary}${more}`);
    this.findings = findings;
  }
}
