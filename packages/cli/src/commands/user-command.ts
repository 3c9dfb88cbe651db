import type { User } from '@aiam/client';
import type { CliIo } from '../cli-io.js';
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

/** Prints one user, or users as a table. */
function show(io: CliIo, json: boolean, user: User): void {
  if (json) {
    printJson(io, user);
    return;
  }
  printFields(io, {
    name: user.name,
    arn: user.arn,
    path: user.path,
    status: user.status,
    tags: user.tags,
    permissionsBoundary: user.permissionsBoundaryArn,
    source: user.source,
    version: user.version,
    created: time(user.createdAt),
  });
}

/** `aiam user create|get|list|update|delete`. */
export const userCommand = resourceCommand('user', 'manage users (create, get, list, update, delete)', {
  create: {
    usage: 'create NAME [--path /p/] [--tag K=V]... [--permissions-boundary POLICY_ARN]',
    async run(args, io) {
      const f = parseFlags(args, {
        path: { type: 'string' },
        tag: { type: 'string', multiple: true },
        'permissions-boundary': { type: 'string' },
      });
      const [name] = positionals(f.positionals, ['name']);
      const tags = keyValues('tag', f.list('tag'));
      const user = await clientFor(io).createUser({
        name: name!,
        ...(f.string('path') ? { path: f.string('path')! } : {}),
        ...(Object.keys(tags).length ? { tags } : {}),
        ...(f.string('permissions-boundary')
          ? { permissionsBoundaryArn: f.string('permissions-boundary')! }
          : {}),
      });
      show(io, f.flag('json'), user);
      return 0;
    },
  },
  get: {
    usage: 'get NAME',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [name] = positionals(f.positionals, ['name']);
      show(io, f.flag('json'), await clientFor(io).getUser(name!));
      return 0;
    },
  },
  list: {
    usage: 'list [--path-prefix /p/]',
    async run(args, io) {
      const f = parseFlags(args, { 'path-prefix': { type: 'string' } });
      positionals(f.positionals, []);
      const client = clientFor(io);
      const prefix = f.string('path-prefix');
      const users = await client.listAll((cursor) =>
        client.listUsers({ ...(prefix ? { pathPrefix: prefix } : {}), ...(cursor ? { cursor } : {}) }),
      );
      if (f.flag('json')) printJson(io, users);
      else
        printTable(
          io,
          ['name', 'status', 'path', 'created', 'arn'],
          users.map((u) => [u.name, u.status, u.path, time(u.createdAt), u.arn]),
        );
      return 0;
    },
  },
  update: {
    usage: 'update NAME [--new-name N] [--path /p/] [--status active|disabled] [--if-match VERSION]',
    async run(args, io) {
      const f = parseFlags(args, {
        'new-name': { type: 'string' },
        path: { type: 'string' },
        status: { type: 'string' },
        'if-match': { type: 'string' },
      });
      const [name] = positionals(f.positionals, ['name']);
      const status = f.string('status');
      const user = await clientFor(io).updateUser(
        name!,
        {
          ...(f.string('new-name') ? { newName: f.string('new-name')! } : {}),
          ...(f.string('path') ? { path: f.string('path')! } : {}),
          ...(status ? { status: status as 'active' | 'disabled' } : {}),
        },
        { ifMatch: intFlag('if-match', f.string('if-match')) },
      );
      show(io, f.flag('json'), user);
      return 0;
    },
  },
  delete: {
    usage: 'delete NAME [--force] [--if-match VERSION]',
    async run(args, io) {
      const f = parseFlags(args, { force: { type: 'boolean' }, 'if-match': { type: 'string' } });
      const [name] = positionals(f.positionals, ['name']);
      await clientFor(io).deleteUser(name!, {
        force: f.flag('force'),
        ifMatch: intFlag('if-match', f.string('if-match')),
      });
      if (f.flag('json')) printJson(io, { deleted: name });
      else io.stdout.write(`deleted user ${name}\n`);
      return 0;
    },
  },
});
