import type { ManagedPolicy, PolicyFinding, PrincipalKind } from '@aiam/client';
import type { CliIo } from '../cli-io.js';
import { UsageError } from '../cli-io.js';
import { readJsonArgument } from '../read-input.js';
import {
  clientFor,
  intFlag,
  type ParsedFlags,
  parseFlags,
  positionals,
  printFields,
  printJson,
  printTable,
  resourceCommand,
  time,
} from './api-command-support.js';

function show(io: CliIo, json: boolean, policy: ManagedPolicy, document?: string): void {
  if (json) {
    printJson(io, document === undefined ? policy : { ...policy, document: JSON.parse(document) });
    return;
  }
  printFields(io, {
    name: policy.name,
    arn: policy.arn,
    description: policy.description,
    defaultVersion: policy.defaultVersionId,
    attachments: policy.attachmentCount,
    version: policy.version,
    created: time(policy.createdAt),
  });
  if (document !== undefined) io.stdout.write(`${JSON.stringify(JSON.parse(document), null, 2)}\n`);
}

/** Prints the validator's warnings about a document just written, to stderr (they do not fail). */
function warn(io: CliIo, findings: PolicyFinding[] | undefined): void {
  for (const f of findings ?? []) {
    const at = f.path
      .map((e) => ('value' in e ? `.${e.value}` : `[${e.index}]`))
      .join('')
      .replace(/^\./, '');
    io.stderr.write(
      `${f.findingType.toLowerCase().replace('_', ' ')}: ${f.issueCode}${at ? ` at ${at}` : ''}: ${f.findingDetails}\n`,
    );
  }
}

async function documentFlag(io: CliIo, f: ParsedFlags): Promise<Record<string, unknown>> {
  const value = f.string('document');
  if (!value) throw new UsageError('--document is required (file://PATH or the JSON itself)');
  return (await readJsonArgument(io, '--document', value)) as Record<string, unknown>;
}

/** The one principal a policy is attached to or detached from. */
function target(f: ParsedFlags): { kind: PrincipalKind; name: string } {
  const given = (['user', 'group', 'role'] as const).filter((k) => f.string(k) !== undefined);
  if (given.length !== 1) throw new UsageError('name exactly one of --user, --group or --role');
  return { kind: given[0]!, name: f.string(given[0]!)! };
}

const TARGET = { user: { type: 'string' }, group: { type: 'string' }, role: { type: 'string' } } as const;

/** `aiam policy create|get|list|delete|attach|detach|create-version|set-default-version`. */
export const policyCommand = resourceCommand(
  'policy',
  'manage managed policies, their versions and attachments',
  {
    create: {
      usage: 'create NAME --document file://PATH|JSON [--description D] [--path /p/]',
      async run(args, io) {
        const f = parseFlags(args, {
          document: { type: 'string' },
          description: { type: 'string' },
          path: { type: 'string' },
        });
        const [name] = positionals(f.positionals, ['name']);
        const policy = await clientFor(io).createPolicy({
          name: name!,
          document: await documentFlag(io, f),
          ...(f.string('description') ? { description: f.string('description')! } : {}),
          ...(f.string('path') ? { path: f.string('path')! } : {}),
        });
        warn(io, policy.findings);
        show(io, f.flag('json'), policy);
        return 0;
      },
    },
    get: {
      usage: 'get NAME   (with its default version document)',
      async run(args, io) {
        const f = parseFlags(args, {});
        const [name] = positionals(f.positionals, ['name']);
        const client = clientFor(io);
        const policy = await client.getPolicy(name!);
        const version = await client.getPolicyVersion(name!, policy.defaultVersionId);
        show(io, f.flag('json'), policy, version.document);
        return 0;
      },
    },
    list: {
      usage: 'list',
      async run(args, io) {
        const f = parseFlags(args, {});
        positionals(f.positionals, []);
        const client = clientFor(io);
        const policies = await client.listAll((cursor) => client.listPolicies(cursor ? { cursor } : {}));
        if (f.flag('json')) printJson(io, policies);
        else
          printTable(
            io,
            ['name', 'default', 'attached', 'arn'],
            policies.map((p) => [p.name, p.defaultVersionId, p.attachmentCount, p.arn]),
          );
        return 0;
      },
    },
    delete: {
      usage: 'delete NAME [--if-match VERSION]',
      async run(args, io) {
        const f = parseFlags(args, { 'if-match': { type: 'string' } });
        const [name] = positionals(f.positionals, ['name']);
        await clientFor(io).deletePolicy(name!, { ifMatch: intFlag('if-match', f.string('if-match')) });
        io.stdout.write(
          f.flag('json') ? `${JSON.stringify({ deleted: name })}\n` : `deleted policy ${name}\n`,
        );
        return 0;
      },
    },
    attach: {
      usage: 'attach POLICY (--user U | --group G | --role R)',
      async run(args, io) {
        const f = parseFlags(args, TARGET);
        const [policy] = positionals(f.positionals, ['policy']);
        const t = target(f);
        await clientFor(io).attachPolicy(t.kind, t.name, policy!);
        io.stdout.write(
          f.flag('json')
            ? `${JSON.stringify({ attached: policy, [t.kind]: t.name })}\n`
            : `attached ${policy} to ${t.kind} ${t.name}\n`,
        );
        return 0;
      },
    },
    detach: {
      usage: 'detach POLICY (--user U | --group G | --role R)',
      async run(args, io) {
        const f = parseFlags(args, TARGET);
        const [policy] = positionals(f.positionals, ['policy']);
        const t = target(f);
        await clientFor(io).detachPolicy(t.kind, t.name, policy!);
        io.stdout.write(
          f.flag('json')
            ? `${JSON.stringify({ detached: policy, [t.kind]: t.name })}\n`
            : `detached ${policy} from ${t.kind} ${t.name}\n`,
        );
        return 0;
      },
    },
    'create-version': {
      usage: 'create-version POLICY --document file://PATH|JSON [--set-default] [--if-match VERSION]',
      async run(args, io) {
        const f = parseFlags(args, {
          document: { type: 'string' },
          'set-default': { type: 'boolean' },
          'if-match': { type: 'string' },
        });
        const [name] = positionals(f.positionals, ['policy']);
        const version = await clientFor(io).createPolicyVersion(name!, await documentFlag(io, f), {
          setAsDefault: f.flag('set-default'),
          ifMatch: intFlag('if-match', f.string('if-match')),
        });
        warn(io, version.findings);
        if (f.flag('json')) printJson(io, version);
        else
          io.stdout.write(
            `created ${version.versionId} of ${name}${version.isDefault ? ' (default)' : ''}\n`,
          );
        return 0;
      },
    },
    'set-default-version': {
      usage: 'set-default-version POLICY VERSION_ID [--if-match VERSION]',
      async run(args, io) {
        const f = parseFlags(args, { 'if-match': { type: 'string' } });
        const [name, versionId] = positionals(f.positionals, ['policy', 'version-id']);
        const policy = await clientFor(io).setDefaultPolicyVersion(name!, versionId!, {
          ifMatch: intFlag('if-match', f.string('if-match')),
        });
        if (f.flag('json')) printJson(io, policy);
        else io.stdout.write(`${name} now uses ${policy.defaultVersionId}\n`);
        return 0;
      },
    },
  },
);
