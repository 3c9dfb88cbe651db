import { parseArgs } from 'node:util';
import {
  type Finding,
  type FindingType,
  formatFindingPath,
  parseJsonSource,
  type ValidatePolicyType,
  validatePolicy,
} from '@aiam/policy';
import { type CliIo, type Command, UsageError } from '../cli-io.js';
import { readInputFile } from '../read-input.js';

const POLICY_TYPES: readonly ValidatePolicyType[] = [
  'IDENTITY_POLICY',
  'RESOURCE_POLICY',
  'SERVICE_CONTROL_POLICY',
];
const LEARN_MORE =
  'https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html';

const USAGE = `usage: aiam validate FILE... [--policy-type TYPE] [--format text|json]

Checks IAM JSON policy documents like IAM Access Analyzer's ValidatePolicy: grammar errors,
unknown actions and condition keys (see docs/actions.md), malformed ARNs, over-broad grants.
Exits 1 when any file has an ERROR finding, 0 otherwise.

  --policy-type TYPE   IDENTITY_POLICY (default), RESOURCE_POLICY or SERVICE_CONTROL_POLICY
  --format FORMAT      text (default) or json (ValidatePolicy's findings, one entry per file)
`;

interface Located {
  finding: Finding;
  line?: number;
  column?: number;
}

function locate(text: string, findings: Finding[]): Located[] {
  let source: ReturnType<typeof parseJsonSource> | undefined;
  try {
    source = parseJsonSource(text);
  } catch {
    source = undefined;
  }
  return findings.map((finding) => {
    const span = source?.spanOf(finding.path);
    return span ? { finding, line: span.start.line, column: span.start.column } : { finding };
  });
}

const LABEL: Record<FindingType, string> = {
  ERROR: 'error',
  SECURITY_WARNING: 'security warning',
  WARNING: 'warning',
  SUGGESTION: 'suggestion',
};

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `aiam validate FILE...`: ValidatePolicy findings for each file. */
export const validateCommand: Command = {
  summary: 'check policy documents (IAM Access Analyzer ValidatePolicy findings)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    let parsed: ReturnType<
      typeof parseArgs<{ options: typeof options; allowPositionals: true; strict: true }>
    >;
    const options = {
      'policy-type': { type: 'string' },
      format: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    } as const;
    try {
      parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const policyType = (values['policy-type'] ?? 'IDENTITY_POLICY').toUpperCase() as ValidatePolicyType;
    if (!POLICY_TYPES.includes(policyType)) {
      throw new UsageError(
        `--policy-type must be one of ${POLICY_TYPES.join(', ')}, not "${values['policy-type']}"`,
      );
    }
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json')
      throw new UsageError(`--format must be text or json, not "${format}"`);
    if (positionals.length === 0) throw new UsageError('name at least one policy file to validate');

    const results: { file: string; located: Located[] }[] = [];
    for (const file of positionals) {
      const text = await readInputFile(io, file);
      results.push({ file, located: locate(text, validatePolicy(text, { policyType })) });
    }

    const all = results.flatMap((r) => r.located.map((l) => l.finding));
    if (format === 'json') {
      const files = results.map((r) => ({
        file: r.file,
        findings: r.located.map(({ finding, line, column }) => ({
          findingDetails: finding.findingDetails,
          findingType: finding.findingType,
          issueCode: finding.issueCode,
          learnMoreLink: LEARN_MORE,
          locations: [
            {
              path: finding.path,
              ...(line !== undefined ? { span: { start: { line, column } } } : {}),
            },
          ],
        })),
      }));
      io.stdout.write(`${JSON.stringify({ files }, null, 2)}\n`);
    } else {
      for (const r of results) {
        if (r.located.length === 0) {
          io.stdout.write(`${r.file}: no findings\n`);
          continue;
        }
        for (const { finding, line, column } of r.located) {
          const where = line !== undefined ? `${r.file}:${line}:${column}` : r.file;
          io.stdout.write(
            `${where}: ${LABEL[finding.findingType]} ${finding.issueCode} at ${formatFindingPath(finding.path)}\n` +
              `  ${finding.findingDetails}\n`,
          );
        }
      }
      const count = (t: FindingType) => all.filter((f) => f.findingType === t).length;
      io.stdout.write(
        `${plural(count('ERROR'), 'error')}, ${plural(count('SECURITY_WARNING'), 'security warning')}, ` +
          `${plural(count('WARNING'), 'warning')}, ${plural(count('SUGGESTION'), 'suggestion')} ` +
          `in ${plural(results.length, 'file')}\n`,
      );
    }
    return all.some((f) => f.findingType === 'ERROR') ? 1 : 0;
  },
};
