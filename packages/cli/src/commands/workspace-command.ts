import {
  keyValues,
  parseFlags,
  positionals,
  printJson,
  printTable,
  resourceCommand,
} from './api-command-support.js';
import { mlClientFor } from './ml-cli-client.js';

/** `aiam workspace create|list|get|delete`: ML workspaces, with a system-assigned identity by default. */
export const workspaceCommand = resourceCommand('workspace', 'manage ML workspaces', {
  create: {
    usage: 'create NAME [--description TEXT] [--tag K=V]... [--no-identity]',
    async run(args, io) {
      const f = parseFlags(args, {
        description: { type: 'string' },
        tag: { type: 'string', multiple: true },
        'no-identity': { type: 'boolean' },
      });
      const [name] = positionals(f.positionals, ['name']);
      const description = f.string('description');
      const { workspace, identity } = await mlClientFor(io).createWorkspace({
        name: name!,
        ...(description !== undefined ? { description } : {}),
        tags: keyValues('tag', f.list('tag')),
        identity: { type: f.flag('no-identity') ? 'None' : 'SystemAssigned' },
      });
      if (f.flag('json')) printJson(io, { workspace, identity });
      else io.stdout.write(`created ${workspace.arn}${identity ? ` with identity ${identity.arn}` : ''}\n`);
      return 0;
    },
  },
  list: {
    usage: 'list',
    async run(args, io) {
      const f = parseFlags(args, {});
      positionals(f.positionals, []);
      const page = await mlClientFor(io).listWorkspaces();
      if (f.flag('json')) printJson(io, page);
      else
        printTable(
          io,
          ['name', 'identity', 'arn'],
          page.items.map((w) => [w.name, w.identity.type, w.arn]),
        );
      return 0;
    },
  },
  get: {
    usage: 'get NAME',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [name] = positionals(f.positionals, ['name']);
      printJson(io, await mlClientFor(io).getWorkspace(name!));
      return 0;
    },
  },
  delete: {
    usage: 'delete NAME [--force]   (--force: its models and endpoints too)',
    async run(args, io) {
      const f = parseFlags(args, { force: { type: 'boolean' } });
      const [name] = positionals(f.positionals, ['name']);
      await mlClientFor(io).deleteWorkspace(name!, { force: f.flag('force') });
      io.stdout.write(`deleted workspace ${name} and its system-assigned identity\n`);
      return 0;
    },
  },
});
