import { parseArgs } from 'node:util';
import { formatFindingPath, InvalidSimulationRequestError, simulateCustomPolicy } from '@aiam/policy';
import { type CliIo, type Command, UsageError } from '../cli-io.js';
import { readJsonArgument } from '../read-input.js';

const USAGE = `usage: aiam simulate-custom-policy --cli-input-json file://PATH

Decides each action on each resource of an IAM SimulateCustomPolicy request (PolicyInputList,
PermissionsBoundaryPolicyInputList, ActionNames, ResourceArns, ResourcePolicy, ResourceOwner,
CallerArn, ContextEntries) offline, and prints the SimulateCustomPolicy response JSON.
A policy that fails validation is refused: its findings are printed and the exit status is 1.

  --cli-input-json VALUE   file://PATH to read the request from, or the JSON text itself
`;

/** `aiam simulate-custom-policy --cli-input-json file://PATH`. */
export const simulateCustomPolicyCommand: Command = {
  summary: 'decide a SimulateCustomPolicy request offline and print the response JSON',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const options = { 'cli-input-json': { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
    let values: { 'cli-input-json'?: string; help?: boolean };
    try {
      values = parseArgs({ args, options, allowPositionals: false, strict: true }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const input = values['cli-input-json'];
    if (input === undefined)
      throw new UsageError('--cli-input-json is required (e.g. --cli-input-json file://request.json)');
    const request = await readJsonArgument(io, '--cli-input-json', input);
    let result: ReturnType<typeof simulateCustomPolicy>;
    try {
      result = simulateCustomPolicy(request);
    } catch (err) {
      if (err instanceof InvalidSimulationRequestError)
        throw new UsageError(`invalid request: ${err.message}`);
      throw err;
    }
    if (!result.ok) {
      for (const policy of result.invalidPolicies) {
        io.stderr.write(`aiam: ${policy.policyId} is not a valid policy; nothing was simulated.\n`);
        for (const f of policy.findings) {
          io.stderr.write(
            `  ${f.findingType} ${f.issueCode} at ${formatFindingPath(f.path)}\n    ${f.findingDetails}\n`,
          );
        }
      }
      return 1;
    }
    io.stdout.write(`${JSON.stringify(result.response, null, 4)}\n`);
    return 0;
  },
};
