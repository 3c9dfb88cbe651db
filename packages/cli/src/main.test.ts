import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CliIo } from './cli-io.js';
import { main } from './main.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const POLICY = join(ROOT, 'examples/policies/ai-data-access.json');
const SIMULATION = join(ROOT, 'examples/simulate/seed-002.json');

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    readTextFile: (path) => readFile(resolve(ROOT, path), 'utf8'),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aiam-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('aiam (dispatch)', () => {
  it('prints help and version, and refuses an unknown command with status 2', async () => {
    const help = await run([]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /validate .*ValidatePolicy/);
    assert.match(help.stdout, /simulate-custom-policy/);
    assert.equal((await run(['--version'])).stdout, 'aiam 0.1.0\n');
    const unknown = await run(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"/);
    assert.equal((await run(['toString'])).code, 2);
  });
});

describe('aiam validate', () => {
  it('passes the seed 002 policy with exit 0', async () => {
    const r = await run(['validate', POLICY]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ai-data-access.json: no findings/);
    assert.match(r.stdout, /0 errors, 0 security warnings, 0 warnings, 0 suggestions in 1 file/);
  });

  it('prints each finding with file:line:column, code and path, and exits 1 on an ERROR', async () => {
    const bad = await file(
      'bad.json',
      '{\n  "Version": "2012-10-17",\n  "Statement": {\n    "Effect": "Allow",\n    "Action": ["s3:GetObjet", "iam:PassRole"],\n    "Resource": "*"\n  }\n}\n',
    );
    const r = await run(['validate', bad, POLICY]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /bad\.json:5:16: error INVALID_ACTION at Statement\.Action\[0\]\n {2}The action s3:GetObjet does not exist\. Did you mean s3:GetObject\?/,
    );
    assert.match(
      r.stdout,
      /bad\.json:6:17: security warning PASS_ROLE_WITH_STAR_IN_RESOURCE at Statement\.Resource/,
    );
    assert.match(r.stdout, /1 error, 1 security warning, 0 warnings, 0 suggestions in 2 files/);
  });

  it('exits 0 with only warnings', async () => {
    const warn = await file(
      'warn.json',
      '{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}',
    );
    const r = await run(['validate', warn]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /warning MISSING_VERSION/);
  });

  it('--format json prints ValidatePolicy-shaped findings per file', async () => {
    const bad = await file(
      'bad2.json',
      '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}',
    );
    const r = await run(['validate', '--format', 'json', bad]);
    assert.equal(r.code, 0);
    const out = JSON.parse(r.stdout);
    assert.equal(out.files[0].file, bad);
    const f = out.files[0].findings[0];
    assert.equal(f.findingType, 'SECURITY_WARNING');
    assert.equal(f.issueCode, 'ALLOW_ALL_ACTIONS_ON_ALL_RESOURCES');
    assert.deepEqual(f.locations[0].path, [{ value: 'Statement' }, { value: 'Action' }]);
    assert.deepEqual(f.locations[0].span.start, { line: 1, column: 64 });
    assert.match(f.learnMoreLink, /^https:\/\//);
  });

  it('reports bad JSON with line and column as a JSON_SYNTAX_ERROR (exit 1)', async () => {
    const broken = await file('broken.json', '{\n  "Version": "2012-10-17",\n  "Statement": [\n}\n');
    const r = await run(['validate', broken]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /error JSON_SYNTAX_ERROR at \(document\)\n {2}Fix the JSON syntax error at line 4, column 1/,
    );
  });

  it('checks resource policies with --policy-type RESOURCE_POLICY', async () => {
    const bucket = await file(
      'bucket.json',
      '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}',
    );
    const r = await run(['validate', '--policy-type', 'RESOURCE_POLICY', bucket]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /MISSING_PRINCIPAL/);
  });

  it('usage errors exit 2: no file, missing file, unknown flag, bad option values', async () => {
    for (const [argv, message] of [
      [['validate'], /name at least one policy file/],
      [['validate', join(dir, 'nope.json')], /cannot read .*nope\.json: no such file/],
      [['validate', '--bogus', POLICY], /Unknown option '--bogus'/],
      [['validate', '--policy-type', 'TRUST', POLICY], /--policy-type must be one of/],
      [['validate', '--format', 'xml', POLICY], /--format must be text or json/],
    ] as const) {
      const r = await run([...argv]);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, message);
      assert.match(r.stderr, /usage: aiam validate/);
    }
  });
});

describe('aiam simulate-custom-policy', () => {
  it('prints the SimulateCustomPolicy response for the seed 002 example', async () => {
    const r = await run(['simulate-custom-policy', '--cli-input-json', `file://${SIMULATION}`]);
    assert.equal(r.code, 0, r.stderr);
    const response = JSON.parse(r.stdout);
    assert.deepEqual(
      response.EvaluationResults.map((e: { EvalActionName: string; EvalDecision: string }) => [
        e.EvalActionName,
        e.EvalDecision,
      ]),
      [
        ['s3:GetObject', 'allowed'],
        ['s3:PutObject', 'implicitDeny'],
      ],
    );
    assert.equal(response.EvaluationResults[0].MatchedStatements[0].SourcePolicyId, 'PolicyInputList.1');
    assert.equal(response.IsTruncated, false);
  });

  it('accepts the JSON inline, as the AWS CLI does', async () => {
    const request = JSON.stringify({
      PolicyInputList: [
        '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*"}}',
      ],
      ActionNames: ['s3:GetObject'],
    });
    const r = await run(['simulate-custom-policy', '--cli-input-json', request]);
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout).EvaluationResults[0].EvalDecision, 'explicitDeny');
  });

  it('refuses an invalid policy with its findings and exit 1, printing no decision', async () => {
    const request = await file(
      'invalid.json',
      JSON.stringify({
        PolicyInputList: [
          '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObjet","Resource":"*"}}',
        ],
        ActionNames: ['s3:GetObject'],
      }),
    );
    const r = await run(['simulate-custom-policy', '--cli-input-json', `file://${request}`]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /PolicyInputList\.1 is not a valid policy; nothing was simulated/);
    assert.match(r.stderr, /ERROR INVALID_ACTION at Statement\.Action/);
  });

  it('usage errors exit 2: missing flag, missing file, bad JSON with line and column, bad request, unknown flag', async () => {
    const badJson = await file('bad-request.json', '{\n  "PolicyInputList": [\n    "x",\n  ]\n}');
    const noActions = await file('no-actions.json', '{"PolicyInputList": []}');
    for (const [argv, message] of [
      [['simulate-custom-policy'], /--cli-input-json is required/],
      [['simulate-custom-policy', '--cli-input-json', `file://${join(dir, 'missing.json')}`], /no such file/],
      [
        ['simulate-custom-policy', '--cli-input-json', `file://${badJson}`],
        /not valid JSON: .* at line 4, column 3/,
      ],
      [
        ['simulate-custom-policy', '--cli-input-json', `file://${noActions}`],
        /invalid request: PolicyInputList must not be empty/,
      ],
      [['simulate-custom-policy', '--policy-input-list', 'x'], /Unknown option '--policy-input-list'/],
    ] as const) {
      const r = await run([...argv]);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});

describe('the built bin', () => {
  const bin = join(ROOT, 'packages/cli/bin/aiam.js');
  const built = existsSync(join(ROOT, 'packages/cli/dist/commands/validate-command.js'));
  it('validates and simulates the examples', {
    skip: built ? false : 'packages/cli/dist is not built',
  }, () => {
    const v = spawnSync(process.execPath, [bin, 'validate', POLICY], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /no findings/);
    const s = spawnSync(
      process.execPath,
      [bin, 'simulate-custom-policy', '--cli-input-json', `file://${SIMULATION}`],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(s.status, 0, s.stderr);
    assert.equal(JSON.parse(s.stdout).EvaluationResults[1].EvalDecision, 'implicitDeny');
    const bad = spawnSync(process.execPath, [bin, 'validate', '--nope'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
  });
});
