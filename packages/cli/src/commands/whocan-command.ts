import type { DecisionTrace } from '@aiam/client';
import {
  apiCommand,
  clientFor,
  parseFlags,
  positionals,
  printJson,
  printTable,
} from './api-command-support.js';

/**
 * `aiam whocan ACTION RESOURCE`: every known principal (users, roles, managed identities)
 * simulated against the live model; those allowed are listed. Groups are not principals of a
 * request: their members are.
 */
export const whocanCommand = apiCommand(
  'whocan',
  'list the principals allowed to perform an action on a resource',
  'whocan ACTION RESOURCE [--json]',
  async (args, io) => {
    const f = parseFlags(args, {});
    const [action, resource] = positionals(f.positionals, ['action', 'resource']);
    const client = clientFor(io);
    const [users, roles, identities] = await Promise.all([
      client.listAll((cursor) => client.listUsers(cursor ? { cursor } : {})),
      client.listAll((cursor) => client.listRoles(cursor ? { cursor } : {})),
      client.listAll((cursor) => client.listManagedIdentities(cursor ? { cursor } : {})),
    ]);
    const principals = [
      ...users.map((u) => ({ kind: 'user', name: u.name, arn: u.arn })),
      ...roles.map((r) => ({ kind: 'role', name: r.name, arn: r.arn })),
      ...identities.map((i) => ({ kind: 'managed-identity', name: i.name, arn: i.arn })),
    ];
    const allowed: { kind: string; name: string; arn: string; decision: DecisionTrace }[] = [];
    // A few at a time: enough to be quick, few enough not to flood the server.
    for (let i = 0; i < principals.length; i += 8) {
      const batch = principals.slice(i, i + 8);
      const decisions = await Promise.all(
        batch.map((p) => client.simulate({ principal: p.arn, action: action!, resource: resource! })),
      );
      batch.forEach((p, j) => {
        if (decisions[j]!.decision === 'allowed') allowed.push({ ...p, decision: decisions[j]! });
      });
    }
    if (f.flag('json')) {
      printJson(
        io,
        allowed.map((a) => ({ kind: a.kind, name: a.name, arn: a.arn, matched: a.decision.matched })),
      );
    } else if (allowed.length === 0) {
      io.stdout.write(`no known principal may ${action} on ${resource}\n`);
    } else {
      printTable(
        io,
        ['kind', 'name', 'granted-by'],
        allowed.map((a) => [
          a.kind,
          a.name,
          a.decision.matched
            .filter((m) => (m as { effect?: string }).effect === 'Allow')
            .map((m) => String((m as { policyId?: string }).policyId))
            .join(', '),
        ]),
      );
    }
    return 0;
  },
);
