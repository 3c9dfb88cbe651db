import { UsageError } from '../cli-io.js';
import {
  clientFor,
  intFlag,
  parseFlags,
  positionals,
  printJson,
  printTable,
  resourceCommand,
  time,
  writePrivateFile,
} from './api-command-support.js';

/** `aiam access-key create|list|update|delete`: the secret is printed once, on create. */
export const accessKeyCommand = resourceCommand(
  'access-key',
  "manage users' access keys (secret shown once)",
  {
    create: {
      usage:
        'create USER [--secrets-out PATH]   (the secret goes to stdout once, or to PATH as JSON, mode 0600)',
      async run(args, io) {
        const f = parseFlags(args, { 'secrets-out': { type: 'string' } });
        const [user] = positionals(f.positionals, ['user']);
        const created = await clientFor(io).createAccessKey(user!);
        const secret = {
          AccessKeyId: created.accessKey.accessKeyId,
          SecretAccessKey: created.secretAccessKey,
          UserName: created.accessKey.userName,
        };
        const out = f.string('secrets-out');
        if (out) {
          await writePrivateFile(io, out, `${JSON.stringify({ [user!]: secret }, null, 2)}\n`);
          if (f.flag('json')) printJson(io, { ...created.accessKey, secretsOut: out });
          else
            io.stdout.write(
              `created ${created.accessKey.accessKeyId} for ${user}; its secret is in ${out} (mode 0600)\n`,
            );
        } else if (f.flag('json')) {
          printJson(io, { AccessKey: { ...secret, Status: created.accessKey.status } });
        } else {
          io.stdout.write(
            `AccessKeyId:     ${secret.AccessKeyId}\nSecretAccessKey: ${secret.SecretAccessKey}\n\nThe secret is shown this once; aiam cannot show it again.\n`,
          );
        }
        return 0;
      },
    },
    list: {
      usage: 'list USER',
      async run(args, io) {
        const f = parseFlags(args, {});
        const [user] = positionals(f.positionals, ['user']);
        const { items } = await clientFor(io).listAccessKeys(user!);
        if (f.flag('json')) printJson(io, items);
        else
          printTable(
            io,
            ['access-key-id', 'status', 'created', 'last-used', 'service'],
            items.map((k) => [
              k.accessKeyId,
              k.status,
              time(k.createdAt),
              time(k.lastUsedAt),
              k.lastUsedService,
            ]),
          );
        return 0;
      },
    },
    update: {
      usage: 'update USER ACCESS_KEY_ID --status Active|Inactive [--if-match VERSION]',
      async run(args, io) {
        const f = parseFlags(args, { status: { type: 'string' }, 'if-match': { type: 'string' } });
        const [user, id] = positionals(f.positionals, ['user', 'access-key-id']);
        const status = f.string('status');
        if (status !== 'Active' && status !== 'Inactive')
          throw new UsageError('--status must be Active or Inactive');
        const key = await clientFor(io).updateAccessKey(user!, id!, status, {
          ifMatch: intFlag('if-match', f.string('if-match')),
        });
        if (f.flag('json')) printJson(io, key);
        else io.stdout.write(`${key.accessKeyId} is ${key.status}\n`);
        return 0;
      },
    },
    delete: {
      usage: 'delete USER ACCESS_KEY_ID',
      async run(args, io) {
        const f = parseFlags(args, {});
        const [user, id] = positionals(f.positionals, ['user', 'access-key-id']);
        await clientFor(io).deleteAccessKey(user!, id!);
        io.stdout.write(f.flag('json') ? `${JSON.stringify({ deleted: id })}\n` : `deleted ${id}\n`);
        return 0;
      },
    },
  },
);
