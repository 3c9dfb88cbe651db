import { parseFlags, positionals, printJson, printTable, resourceCommand } from './api-command-support.js';
import { mlClientFor } from './ml-cli-client.js';

/** `aiam model create|list|create-version|list-versions|get-version`: models and their versions. */
export const modelCommand = resourceCommand('model', 'manage models and model versions', {
  create: {
    usage: 'create WORKSPACE NAME [--description TEXT]',
    async run(args, io) {
      const f = parseFlags(args, { description: { type: 'string' } });
      const [ws, name] = positionals(f.positionals, ['workspace', 'name']);
      const description = f.string('description');
      const m = await mlClientFor(io).createModel(ws!, {
        name: name!,
        ...(description ? { description } : {}),
      });
      if (f.flag('json')) printJson(io, m);
      else io.stdout.write(`created ${m.arn}\n`);
      return 0;
    },
  },
  list: {
    usage: 'list WORKSPACE',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [ws] = positionals(f.positionals, ['workspace']);
      const page = await mlClientFor(io).listModels(ws!);
      if (f.flag('json')) printJson(io, page);
      else
        printTable(
          io,
          ['name', 'arn'],
          page.items.map((m) => [m.name, m.arn]),
        );
      return 0;
    },
  },
  'create-version': {
    usage: 'create-version WORKSPACE MODEL VERSION [--artifacts s3://bucket/prefix]',
    async run(args, io) {
      const f = parseFlags(args, { artifacts: { type: 'string' } });
      const [ws, model, version] = positionals(f.positionals, ['workspace', 'model', 'version']);
      const artifactLocation = f.string('artifacts');
      const v = await mlClientFor(io).createModelVersion(ws!, model!, {
        version: version!,
        ...(artifactLocation ? { artifactLocation } : {}),
      });
      if (f.flag('json')) printJson(io, v);
      else io.stdout.write(`created ${v.arn}\n`);
      return 0;
    },
  },
  'list-versions': {
    usage: 'list-versions WORKSPACE MODEL',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [ws, model] = positionals(f.positionals, ['workspace', 'model']);
      const page = await mlClientFor(io).listModelVersions(ws!, model!);
      if (f.flag('json')) printJson(io, page);
      else
        printTable(
          io,
          ['version', 'artifacts', 'arn'],
          page.items.map((v) => [v.label, v.artifactLocation, v.arn]),
        );
      return 0;
    },
  },
  'get-version': {
    usage: 'get-version WORKSPACE MODEL VERSION',
    async run(args, io) {
      const f = parseFlags(args, {});
      const [ws, model, version] = positionals(f.positionals, ['workspace', 'model', 'version']);
      printJson(io, await mlClientFor(io).getModelVersion(ws!, model!, version!));
      return 0;
    },
  },
});
