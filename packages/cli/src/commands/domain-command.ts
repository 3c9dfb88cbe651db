import { parseArgs } from 'node:util';
import { DomainClient } from '@aiam/client';
import { type CliIo, type Command, UsageError } from '../cli-io.js';

const USAGE = `usage: aiam domain <subcommand> ...

  list                                   list domains
  get DOMAIN                             show a domain (auth mode, execution role, networks)
  profiles DOMAIN                        list a domain's user profiles and their people
  presigned-url DOMAIN PROFILE [--expires-in SECONDS] [--session-duration SECONDS]
                                         a single-use console link scoped to the domain and
                                         profile (5..300 s), opened only from the domain networks
  session DOMAIN PROFILE                 your profile's credentials (the execution role with
                                         you as source identity), printed as AWS
                                         credential_process JSON: use it as
                                         credential_process = aiam domain session D P
`;

function parse(args: string[], options: Record<string, { type: 'string' }> = {}) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function seconds(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined || typeof value === 'boolean') return undefined;
  if (!/^\d{1,6}$/.test(value)) throw new UsageError(`${flag} takes a whole number of seconds`);
  return Number(value);
}

/** `aiam domain …`: domains, user profiles, console links and profile sessions (seed 004). */
export const domainCommand: Command = {
  summary: 'domains and user profiles: list, console links (presigned-url), profile sessions',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      io.stdout.write(USAGE);
      return sub === undefined ? 2 : 0;
    }
    const client = new DomainClient();
    const json = (v: unknown) => io.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
    switch (sub) {
      case 'list': {
        parse(rest);
        for (const d of await client.listDomains())
          io.stdout.write(`${d.name}\t${d.authMode}\t${d.defaultUserSettings.executionRoleArn ?? '-'}\n`);
        return 0;
      }
      case 'get': {
        const { positionals } = parse(rest);
        if (positionals.length !== 1) throw new UsageError('aiam domain get DOMAIN');
        json(await client.getDomain(positionals[0]!));
        return 0;
      }
      case 'profiles': {
        const { positionals } = parse(rest);
        if (positionals.length !== 1) throw new UsageError('aiam domain profiles DOMAIN');
        for (const p of await client.listUserProfiles(positionals[0]!))
          io.stdout.write(`${p.name}\t${p.user}\t${p.executionRoleArn ?? '(domain default)'}\n`);
        return 0;
      }
      case 'presigned-url': {
        const { positionals, values } = parse(rest, {
          'expires-in': { type: 'string' },
          'session-duration': { type: 'string' },
        });
        if (positionals.length !== 2) throw new UsageError('aiam domain presigned-url DOMAIN PROFILE');
        const flags = values as Record<string, string | boolean | undefined>;
        const expiresIn = seconds(flags['expires-in'], '--expires-in');
        const session = seconds(flags['session-duration'], '--session-duration');
        const { url } = await client.presignedUrl(positionals[0]!, positionals[1]!, {
          ...(expiresIn !== undefined ? { expiresInSeconds: expiresIn } : {}),
          ...(session !== undefined ? { sessionExpirationDurationInSeconds: session } : {}),
        });
        io.stdout.write(`${url}\n`);
        return 0;
      }
      case 'session': {
        const { positionals } = parse(rest);
        if (positionals.length !== 2) throw new UsageError('aiam domain session DOMAIN PROFILE');
        const s = await client.startSession(positionals[0]!, positionals[1]!);
        // The credential_process contract (AWS CLI/SDKs): Version 1 JSON on stdout.
        json({
          Version: 1,
          AccessKeyId: s.accessKeyId,
          SecretAccessKey: s.secretAccessKey,
          SessionToken: s.sessionToken,
          Expiration: s.expiration,
        });
        return 0;
      }
      default:
        throw new UsageError(`unknown subcommand "${sub}"`);
    }
  },
};
