import { UsageError } from '../cli-io.js';
import {
  apiCommand,
  clientFor,
  keyValues,
  parseFlags,
  positionals,
  printJson,
} from './api-command-support.js';

/** `aiam simulate`: decide a request for a principal against the live model. Exit 0 allowed, 1 denied. */
export const simulateCommand = apiCommand(
  'simulate',
  'decide a request for a principal against the live policies (exit 0 allowed, 1 denied)',
  `simulate --principal user/NAME|role/NAME|managed-identity/NAME|ARN --action A --resource R [--context KEY=VALUE]... [--json]`,
  async (args, io) => {
    const f = parseFlags(args, {
      principal: { type: 'string' },
      action: { type: 'string' },
      resource: { type: 'string' },
      context: { type: 'string', multiple: true },
    });
    positionals(f.positionals, []);
    const [principal, action, resource] = [f.string('principal'), f.string('action'), f.string('resource')];
    if (!principal || !action || !resource)
      throw new UsageError('--principal, --action and --resource are all required');
    const context = keyValues('context', f.list('context'));
    const d = await clientFor(io).simulate({
      principal,
      action,
      resource,
      ...(Object.keys(context).length ? { context } : {}),
    });
    if (f.flag('json')) printJson(io, d);
    else io.stdout.write(`${d.decision}\n\n${d.explanation}\n`);
    return d.decision === 'allowed' ? 0 : 1;
  },
);
