import { UsageError } from '../cli-io.js';
import {
  intFlag,
  parseFlags,
  positionals,
  printJson,
  printTable,
  resourceCommand,
  writePrivateFile,
} from './api-command-support.js';
import { mlClientFor } from './ml-cli-client.js';

/**
 * `aiam endpoint create|list|get|delete|keys|regenerate-key|deploy|deployments`: online
 * endpoints, their keys (shown once, or written 0600 with --secrets-out) and deployments.
 */
export const endpointCommand = resourceCommand('endpoint', 'manage online endpoints, keys and deployments', {
  create: {
    usage:
      'create WORKSPACE NAME [--auth-mode key|token] [--api openai|http] [--no-identity] [--secrets-out PATH]',
    async run(args, io) {
      const f = parseFlags(args, {
        'auth-mode': { type: 'string' },
        api: { type: 'string' },
        'no-identity': { type: 'boolean' },
        'secrets-out': { type: 'string' },
      });
      const [ws, name] = positionals(f.positionals, ['workspace', 'name']);
      const authMode = f.string('auth-mode') ?? 'key';
      if (authMode !== 'key' && authMode !== 'token') throw new UsageError('--auth-mode is key or token');
      const api = f.string('api') ?? 'http';
      if (api !== 'openai' && api !== 'http') throw new UsageError('--api is openai or http');
      const created = await mlClientFor(io).createEndpoint(ws!, {
        name: name!,
        authMode,
        api,
        identity: { type: f.flag('no-identity') ? 'None' : 'SystemAssigned' },
      });
      const out = f.string('secrets-out');
      if (out && created.keys)
        await writePrivateFile(io, out, `${JSON.stringify({ [name!]: created.keys }, null, 2)}\n`);
      if (f.flag('json')) printJson(io, out ? { ...created, keys: undefined, secretsOut: out } : created);
      else {
        io.stdout.write(
          `created ${created.endpoint.arn}${created.identity ? ` with identity ${created.identity.arn}` : ''}\n`,
        );
        if (created.keys && out) io.stdout.write(`its keys are in ${out} (mode 0600)\n`);
        else if (created.keys)
          io.stdout.write(
            `primary:   ${created.keys.primary}\nsecondary: ${created.keys.secondary}\n\nThe keys are shown this once.\n`,
          );
      }
      return 0;
    },
  },
  list: {
    usage: 'list WORKSPACE',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [ws] = positionals(f.positionals, ['workspace']);
      const page = await mlClientFor(io).listEndpoints(ws!);
      if (f.flag('json')) printJson(io, page);
      else
        printTable(
          io,
          ['name', 'auth', 'api', 'arn'],
          page.items.map((e) => [e.name, e.authMode, e.api, e.arn]),
        );
      return 0;
    },
  },
  get: {
    usage: 'get WORKSPACE NAME',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [ws, name] = positionals(f.positionals, ['workspace', 'name']);
      printJson(io, await mlClientFor(io).getEndpoint(ws!, name!));
      return 0;
    },
  },
  delete: {
    usage: 'delete WORKSPACE NAME',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [ws, name] = positionals(f.positionals, ['workspace', 'name']);
      await mlClientFor(io).deleteEndpoint(ws!, name!);
      io.stdout.write(`deleted endpoint ${name} with its deployments, keys and identity\n`);
      return 0;
    },
  },
  keys: {
    usage: 'keys WORKSPACE NAME   (slots and ids, never the keys)',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [ws, name] = positionals(f.positionals, ['workspace', 'name']);
      const keys = await mlClientFor(io).listEndpointKeys(ws!, name!);
      if (f.flag('json')) printJson(io, keys);
      else
        printTable(
          io,
          ['slot', 'id', 'created'],
          keys.items.map((k) => [k.slot, k.id, new Date(k.createdAt).toISOString()]),
        );
      return 0;
    },
  },
  'regenerate-key': {
    usage: 'regenerate-key WORKSPACE NAME primary|secondary [--secrets-out PATH]',
    async run(args, io) {
      const f = parseFlags(args, { 'secrets-out': { type: 'string' } });
      const [ws, name, slot] = positionals(f.positionals, ['workspace', 'name', 'slot']);
      if (slot !== 'primary' && slot !== 'secondary')
        throw new UsageError('the slot is primary or secondary');
      const { key } = await mlClientFor(io).regenerateEndpointKey(ws!, name!, slot);
      const out = f.string('secrets-out');
      if (out) {
        await writePrivateFile(io, out, `${JSON.stringify({ [name!]: { [slot]: key } }, null, 2)}\n`);
        io.stdout.write(`regenerated the ${slot} key of ${name}; it is in ${out} (mode 0600)\n`);
      } else if (f.flag('json')) printJson(io, { slot, key });
      else io.stdout.write(`${slot}: ${key}\n\nShown this once; the other slot keeps working.\n`);
      return 0;
    },
  },
  deploy: {
    usage: 'deploy WORKSPACE ENDPOINT DEPLOYMENT --upstream URL [--model NAME:VERSION] [--traffic 0..100]',
    async run(args, io) {
      const f = parseFlags(args, {
        upstream: { type: 'string' },
        model: { type: 'string' },
        traffic: { type: 'string' },
      });
      const [ws, ep, name] = positionals(f.positionals, ['workspace', 'endpoint', 'deployment']);
      const upstreamUrl = f.string('upstream');
      if (!upstreamUrl) throw new UsageError('deploy needs --upstream URL');
      const model = f.string('model');
      const trafficWeight = intFlag('traffic', f.string('traffic'));
      const d = await mlClientFor(io).createDeployment(ws!, ep!, {
        name: name!,
        upstreamUrl,
        ...(model ? { model } : {}),
        ...(trafficWeight !== undefined ? { trafficWeight } : {}),
      });
      if (f.flag('json')) printJson(io, d);
      else io.stdout.write(`created ${d.arn} -> ${d.upstreamUrl}\n`);
      return 0;
    },
  },
  deployments: {
    usage: 'deployments WORKSPACE ENDPOINT',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [ws, ep] = positionals(f.positionals, ['workspace', 'endpoint']);
      const list = await mlClientFor(io).listDeployments(ws!, ep!);
      if (f.flag('json')) printJson(io, list);
      else
        printTable(
          io,
          ['name', 'model', 'traffic', 'upstream'],
          list.items.map((d) => [d.name, d.modelRef, d.trafficWeight, d.upstreamUrl]),
        );
      return 0;
    },
  },
});
