import { UsageError } from '../cli-io.js';
import {
  clientFor,
  parseFlags,
  positionals,
  printJson,
  printTable,
  resourceCommand,
  time,
} from './api-command-support.js';

/** `aiam role-assignment create|list|delete`: Azure-style roles at a scope. */
export const roleAssignmentCommand = resourceCommand(
  'role-assignment',
  'grant roles at a scope (Azure-style RBAC)',
  {
    create: {
      usage: 'create --principal user/NAME|role/NAME|managed-identity/NAME|ARN --role ROLE --scope PATH|ARN',
      async run(args, io) {
        const f = parseFlags(args, {
          principal: { type: 'string' },
          role: { type: 'string' },
          scope: { type: 'string' },
        });
        positionals(f.positionals, []);
        const [principal, role, scope] = [f.string('principal'), f.string('role'), f.string('scope')];
        if (!principal || !role || !scope)
          throw new UsageError('--principal, --role and --scope are all required');
        const a = await clientFor(io).createRoleAssignment({ principal, role, scope });
        if (f.flag('json')) printJson(io, a);
        else
          io.stdout.write(`created ${a.id}: ${a.roleDefinitionName} for ${a.principalArn} at ${a.scope}\n`);
        return 0;
      },
    },
    list: {
      usage: 'list [--principal P] [--scope S]',
      async run(args, io) {
        const f = parseFlags(args, { principal: { type: 'string' }, scope: { type: 'string' } });
        positionals(f.positionals, []);
        const client = clientFor(io);
        const principal = f.string('principal');
        const scope = f.string('scope');
        const list = await client.listAll((cursor) =>
          client.listRoleAssignments({
            ...(principal ? { principal } : {}),
            ...(scope ? { scope } : {}),
            ...(cursor ? { cursor } : {}),
          }),
        );
        if (f.flag('json')) printJson(io, list);
        else
          printTable(
            io,
            ['id', 'role', 'created', 'principal', 'scope'],
            list.map((a) => [a.id, a.roleDefinitionName, time(a.createdAt), a.principalArn, a.scope]),
          );
        return 0;
      },
    },
    delete: {
      usage: 'delete ID',
      async run(args, io) {
        const f = parseFlags(args, {});
        const [id] = positionals(f.positionals, ['id']);
        await clientFor(io).deleteRoleAssignment(id!);
        io.stdout.write(
          f.flag('json') ? `${JSON.stringify({ deleted: id })}\n` : `deleted role assignment ${id}\n`,
        );
        return 0;
      },
    },
  },
);
