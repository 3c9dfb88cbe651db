import type { Group } from '@aiam/client';
import type { CliIo } from '../cli-io.js';
import {
  clientFor,
  intFlag,
  parseFlags,
  positionals,
  printFields,
  printJson,
  printTable,
  resourceCommand,
  time,
} from './api-command-support.js';

function show(io: CliIo, json: boolean, group: Group): void {
  if (json) {
    printJson(io, group);
    return;
  }
  printFields(io, {
    name: group.name,
    arn: group.arn,
    path: group.path,
    version: group.version,
    created: time(group.createdAt),
  });
}

/** `aiam group create|get|list|update|delete|add-user|remove-user`. */
export const groupCommand = resourceCommand('group', 'manage groups and their members', {
  create: {
    usage: 'create NAME [--path /p/]',
    async run(args, io) {
      const f = parseFlags(args, { path: { type: 'string' } });
      const [name] = positionals(f.positionals, ['name']);
      const path = f.string('path');
      show(io, f.flag('json'), await clientFor(io).createGroup({ name: name!, ...(path ? { path } : {}) }));
      return 0;
    },
  },
  get: {
    usage: 'get NAME   (with its members)',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [name] = positionals(f.positionals, ['name']);
      const client = clientFor(io);
      const group = await client.getGroup(name!);
      const members = await client.listAll((cursor) =>
        client.listGroupMembers(name!, cursor ? { cursor } : {}),
      );
      if (f.flag('json')) printJson(io, { ...group, members: members.map((m) => m.name) });
      else {
        show(io, false, group);
        io.stdout.write(`members: ${members.map((m) => m.name).join(', ') || '-'}\n`);
      }
      return 0;
    },
  },
  list: {
    usage: 'list',
    async run(args, io) {
      const f = parseFlags(args, {});
      positionals(f.positionals, []);
      const client = clientFor(io);
      const groups = await client.listAll((cursor) => client.listGroups(cursor ? { cursor } : {}));
      if (f.flag('json')) printJson(io, groups);
      else
        printTable(
          io,
          ['name', 'path', 'arn'],
          groups.map((g) => [g.name, g.path, g.arn]),
        );
      return 0;
    },
  },
  update: {
    usage: 'update NAME [--new-name N] [--path /p/] [--if-match VERSION]',
    async run(args, io) {
      const f = parseFlags(args, {
        'new-name': { type: 'string' },
        path: { type: 'string' },
        'if-match': { type: 'string' },
      });
      const [name] = positionals(f.positionals, ['name']);
      const group = await clientFor(io).updateGroup(
        name!,
        {
          ...(f.string('new-name') ? { newName: f.string('new-name')! } : {}),
          ...(f.string('path') ? { path: f.string('path')! } : {}),
        },
        { ifMatch: intFlag('if-match', f.string('if-match')) },
      );
      show(io, f.flag('json'), group);
      return 0;
    },
  },
  delete: {
    usage: 'delete NAME [--force] [--if-match VERSION]',
    async run(args, io) {
      const f = parseFlags(args, { force: { type: 'boolean' }, 'if-match': { type: 'string' } });
      const [name] = positionals(f.positionals, ['name']);
      await clientFor(io).deleteGroup(name!, {
        force: f.flag('force'),
        ifMatch: intFlag('if-match', f.string('if-match')),
      });
      io.stdout.write(f.flag('json') ? `${JSON.stringify({ deleted: name })}\n` : `deleted group ${name}\n`);
      return 0;
    },
  },
  'add-user': {
    usage: 'add-user GROUP USER',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [group, user] = positionals(f.positionals, ['group', 'user']);
      await clientFor(io).addUserToGroup(group!, user!);
      io.stdout.write(
        f.flag('json') ? `${JSON.stringify({ group, added: user })}\n` : `added ${user} to ${group}\n`,
      );
      return 0;
    },
  },
  'remove-user': {
    usage: 'remove-user GROUP USER',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [group, user] = positionals(f.positionals, ['group', 'user']);
      await clientFor(io).removeUserFromGroup(group!, user!);
      io.stdout.write(
        f.flag('json') ? `${JSON.stringify({ group, removed: user })}\n` : `removed ${user} from ${group}\n`,
      );
      return 0;
    },
  },
});
