import type { Role } from '@aiam/client';
import type { CliIo } from '../cli-io.js';
import { UsageError } from '../cli-io.js';
import { readJsonArgument } from '../read-input.js';
import {
  clientFor,
  intFlag,
  keyValues,
  parseFlags,
  positionals,
  printFields,
  printJson,
  printTable,
  resourceCommand,
  time,
} from './api-command-support.js';

function show(io: CliIo, json: boolean, role: Role): void {
  if (json) {
    printJson(io, role);
    return;
  }
  printFields(io, {
    name: role.name,
    arn: role.arn,
    path: role.path,
    description: role.description,
    maxSessionDuration: role.maxSessionDuration,
    tags: role.tags,
    permissionsBoundary: role.permissionsBoundaryArn,
    version: role.version,
    created: time(role.createdAt),
    trustPolicy: role.trustPolicy,
  });
}

/** `aiam role create|get|list|update|delete`. */
export const roleCommand = resourceCommand('role', 'manage IAM roles (trust policy, session duration)', {
  create: {
    usage:
      'create NAME --trust-policy file://PATH|JSON [--path /p/] [--description D] [--max-session-duration SECONDS] [--tag K=V]...',
    async run(args, io) {
      const f = parseFlags(args, {
        'trust-policy': { type: 'string' },
        path: { type: 'string' },
        description: { type: 'string' },
        'max-session-duration': { type: 'string' },
        tag: { type: 'string', multiple: true },
      });
      const [name] = positionals(f.positionals, ['name']);
      const trust = f.string('trust-policy');
      if (!trust) throw new UsageError('--trust-policy is required (file://PATH or the JSON itself)');
      const tags = keyValues('tag', f.list('tag'));
      const max = intFlag('max-session-duration', f.string('max-session-duration'));
      const role = await clientFor(io).createRole({
        name: name!,
        trustPolicy: (await readJsonArgument(io, '--trust-policy', trust)) as Record<string, unknown>,
        ...(f.string('path') ? { path: f.string('path')! } : {}),
        ...(f.string('description') ? { description: f.string('description')! } : {}),
        ...(max !== undefined ? { maxSessionDuration: max } : {}),
        ...(Object.keys(tags).length ? { tags } : {}),
      });
      show(io, f.flag('json'), role);
      return 0;
    },
  },
  get: {
    usage: 'get NAME',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [name] = positionals(f.positionals, ['name']);
      show(io, f.flag('json'), await clientFor(io).getRole(name!));
      return 0;
    },
  },
  list: {
    usage: 'list',
    async run(args, io) {
      const f = parseFlags(args, {});
      positionals(f.positionals, []);
      const client = clientFor(io);
      const roles = await client.listAll((cursor) => client.listRoles(cursor ? { cursor } : {}));
      if (f.flag('json')) printJson(io, roles);
      else
        printTable(
          io,
          ['name', 'max-session', 'description', 'arn'],
          roles.map((r) => [r.name, r.maxSessionDuration, r.description || '-', r.arn]),
        );
      return 0;
    },
  },
  update: {
    usage:
      'update NAME [--description D] [--max-session-duration SECONDS] [--trust-policy file://PATH|JSON] [--if-match VERSION]',
    async run(args, io) {
      const f = parseFlags(args, {
        description: { type: 'string' },
        'max-session-duration': { type: 'string' },
        'trust-policy': { type: 'string' },
        'if-match': { type: 'string' },
      });
      const [name] = positionals(f.positionals, ['name']);
      const client = clientFor(io);
      let ifMatch = intFlag('if-match', f.string('if-match'));
      let role: Role | undefined;
      const trust = f.string('trust-policy');
      if (trust) {
        const document = (await readJsonArgument(io, '--trust-policy', trust)) as Record<string, unknown>;
        role = await client.updateAssumeRolePolicy(name!, document, { ifMatch });
        ifMatch = role.version;
      }
      const max = intFlag('max-session-duration', f.string('max-session-duration'));
      const description = f.string('description');
      if (description !== undefined || max !== undefined || !role) {
        role = await client.updateRole(
          name!,
          {
            ...(description !== undefined ? { description } : {}),
            ...(max !== undefined ? { maxSessionDuration: max } : {}),
          },
          { ifMatch },
        );
      }
      show(io, f.flag('json'), role);
      return 0;
    },
  },
  delete: {
    usage: 'delete NAME [--force] [--if-match VERSION]',
    async run(args, io) {
      const f = parseFlags(args, { force: { type: 'boolean' }, 'if-match': { type: 'string' } });
      const [name] = positionals(f.positionals, ['name']);
      await clientFor(io).deleteRole(name!, {
        force: f.flag('force'),
        ifMatch: intFlag('if-match', f.string('if-match')),
      });
      io.stdout.write(f.flag('json') ? `${JSON.stringify({ deleted: name })}\n` : `deleted role ${name}\n`);
      return 0;
    },
  },
});
