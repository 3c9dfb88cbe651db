import { apiCommand, clientFor, parseFlags, positionals, printJson } from './api-command-support.js';

/** `aiam explain DECISION_ID`: why a request was allowed or refused. */
export const explainCommand = apiCommand(
  'explain',
  'explain a decision by its id (from a 403 or the audit trail)',
  'explain DECISION_ID [--json]',
  async (args, io) => {
    const f = parseFlags(args, {});
    const [id] = positionals(f.positionals, ['decision-id']);
    const d = await clientFor(io).explainDecision(id!);
    if (f.flag('json')) printJson(io, d);
    else
      io.stdout.write(
        `${d.decision}: ${d.principal} ${d.action} ${d.resource}${d.reason ? ` (${d.reason})` : ''}\n\n${d.explanation}\n`,
      );
    return 0;
  },
);
