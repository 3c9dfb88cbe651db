import { ScimTokenClient } from '@aiam/client';
import type { CliIo } from '../cli-io.js';
import {
  type ApiCliIo,
  parseFlags,
  positionals,
  printJson,
  printTable,
  resourceCommand,
  writePrivateFile,
} from './api-command-support.js';

function scimTokensFor(io: CliIo): ScimTokenClient {
  const api = io as ApiCliIo;
  return new ScimTokenClient({ env: api.env ?? process.env, ...(api.fetch ? { fetch: api.fetch } : {}) });
}

/**
 * `aiam scim-token create|list|revoke`: provisioning tokens for an identity provider (Entra ID,
 * Okta). A token can do nothing but SCIM provisioning; its secret is shown once (or written to
 * a 0600 file with `--out`) and the server keeps only a hash of it.
 */
export const scimTokenCommand = resourceCommand('scim-token', 'manage SCIM provisioning tokens', {
  create: {
    usage:
      'create [--description TEXT] [--out PATH]   (the token is shown once; --out writes it 0600 instead)',
    async run(args, io) {
      const f = parseFlags(args, { description: { type: 'string' }, out: { type: 'string' } });
      positionals(f.positionals, []);
      const description = f.string('description');
      const created = await scimTokensFor(io).create(description !== undefined ? { description } : {});
      const out = f.string('out');
      if (out !== undefined) {
        await writePrivateFile(io, out, `${created.token}\n`);
        if (f.flag('json')) printJson(io, { ...created, token: undefined, tokenFile: out });
        else io.stdout.write(`created SCIM token ${created.id}; the token is in ${out} (mode 0600)\n`);
        return 0;
      }
      if (f.flag('json')) printJson(io, created);
      else {
        io.stdout.write(`${created.token}\n`);
        io.stderr.write(
          `created SCIM token ${created.id}: give it to the identity provider now, it cannot be shown again\n`,
        );
      }
      return 0;
    },
  },
  list: {
    usage: 'list',
    async run(args, io) {
      const f = parseFlags(args, {});
      positionals(f.positionals, []);
      const tokens = await scimTokensFor(io).list();
      if (f.flag('json')) printJson(io, { tokens });
      else
        printTable(
          io,
          ['id', 'status', 'created', 'description'],
          tokens.map((t) => [t.id, t.status, t.createdAt, t.description]),
        );
      return 0;
    },
  },
  revoke: {
    usage: 'revoke ID',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [id] = positionals(f.positionals, ['id']);
      await scimTokensFor(io).revoke(id!);
      io.stdout.write(`revoked SCIM token ${id}\n`);
      return 0;
    },
  },
});
