import { type CliIo, type Command, UsageError } from '../cli-io.js';

const USAGE = `usage: aiam admin rotate-master-key [--data-dir DIR] [--database URL] [--resume]
                                    [--retire-old] [--print-new-key] [--batch-size N]

Offline operator commands that work on the data directory and database directly.

rotate-master-key
  Generates a new master key, makes it the active one and re-encrypts every stored secret
  (access-key and session secrets, OIDC signing keys, the pepper) under it, in batches of one
  transaction each. Keys in DIR/master.key: the new key is written first (atomically), the old
  ones kept after it for decryption. Keys in AIAM_MASTER_KEY: nothing is written; the command
  prints what to set (needs --print-new-key, since the new key exists nowhere else).
  Interrupted? Run it again with --resume: records already under the new key are skipped.

options (environment variable in brackets):
  --data-dir DIR     data directory [AIAM_DATA_DIR]; default ./.aiam
  --database URL     postgres://… [AIAM_DATABASE_URL]; default SQLite in DIR
  --resume           finish an interrupted pass under the current active key (no new key)
  --retire-old       after a complete pass, remove the older keys from master.key
  --print-new-key    print the new key (base64) for AIAM_MASTER_KEY
  --batch-size N     records per transaction (1-10000); default 200
`;

interface AdminSettings {
  dataDir: string;
  databaseUrl: string | undefined;
  resume: boolean;
  retireOld: boolean;
  printNewKey: boolean;
  batchSize: number | undefined;
}

function readSettings(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): AdminSettings {
  const s: AdminSettings = {
    dataDir: env.AIAM_DATA_DIR ?? '.aiam',
    databaseUrl: env.AIAM_DATABASE_URL || undefined,
    resume: false,
    retireOld: false,
    printNewKey: false,
    batchSize: undefined,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      const v = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--resume') s.resume = true;
    else if (flag === '--retire-old') s.retireOld = true;
    else if (flag === '--print-new-key') s.printNewKey = true;
    else if (flag === '--data-dir') s.dataDir = value();
    else if (flag === '--database') s.databaseUrl = value();
    else if (flag === '--batch-size') {
      const v = value();
      if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 10_000)
        throw new UsageError(`--batch-size must be a number from 1 to 10000, not "${v}"`);
      s.batchSize = Number(v);
    } else throw new UsageError(`unknown option "${arg}"`);
  }
  return s;
}

/** Runs `aiam admin rotate-master-key` with `env` in place of process.env (tests). */
export async function runRotateMasterKey(
  args: readonly string[],
  io: CliIo,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<number> {
  const s = readSettings(args, env);
  const fromEnv = (env.AIAM_MASTER_KEY ?? '').trim() !== '';
  if (fromEnv && !s.resume && !s.printNewKey) {
    throw new UsageError(
      'the master key comes from AIAM_MASTER_KEY, so the new key can only be handed to you on the terminal: add --print-new-key (and keep the output secret)',
    );
  }
  // Lazy: the server (database drivers and all) loads only for the commands that need it.
  const { rotateStoreMasterKey } = await import('@aiam/server');
  const r = await rotateStoreMasterKey({
    dataDir: s.dataDir,
    ...(s.databaseUrl !== undefined ? { databaseUrl: s.databaseUrl } : {}),
    env,
    resume: s.resume,
    retireOld: s.retireOld,
    ...(s.batchSize !== undefined ? { batchSize: s.batchSize } : {}),
    onKeyReady: ({ newKeyId, envKeys }) => {
      if (!envKeys) return;
      // Printed before anything is re-encrypted: this key exists nowhere else.
      const out = io.stdout;
      out.write(`new master key ${newKeyId}; set on every node and restart:\n`);
      out.write(`  AIAM_MASTER_KEY=${s.printNewKey ? envKeys.active : '<the new key>'}\n`);
      out.write(
        `  AIAM_MASTER_KEYS_PREVIOUS=${s.printNewKey ? envKeys.previous.join(',') : '<the previous AIAM_MASTER_KEY>'}\n`,
      );
      out.write(
        'if this pass is interrupted, rerun with those set and --resume; once every node runs with the new key, AIAM_MASTER_KEYS_PREVIOUS can be removed.\n',
      );
    },
    onBatch: ({ kind, report }) => {
      io.stderr.write(
        `aiam admin: ${kind}: ${report.reencrypted} re-encrypted, ${report.alreadyCurrent} already current\n`,
      );
    },
  });
  const out = io.stdout;
  out.write(`active master key: ${r.newKeyId}${r.keyFile ? ` (${r.keyFile})` : ''}\n`);
  out.write(
    `re-encrypted ${r.report.reencrypted} secret(s); ${r.report.alreadyCurrent} already under ${r.newKeyId}` +
      (r.report.skippedChanged > 0
        ? `; ${r.report.skippedChanged} changed meanwhile (run again with --resume)`
        : '') +
      '\n',
  );
  if (r.retired.length > 0) out.write(`retired: ${r.retired.join(', ')}\n`);
  else if (r.source === 'file' && r.previousKeyIds.length > 0)
    out.write(
      `still held for decryption: ${r.previousKeyIds.join(', ')}; restart every server, then retire with: aiam admin rotate-master-key --resume --retire-old\n`,
    );
  if (r.source === 'env' && s.retireOld)
    out.write('keys from the environment are retired by removing them from AIAM_MASTER_KEYS_PREVIOUS.\n');
  return r.report.skippedChanged > 0 ? 1 : 0;
}

/** `aiam admin`: offline operator commands on the data directory (master-key rotation). */
export const adminCommand: Command = {
  summary: 'offline operator tasks (rotate-master-key)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
      io.stdout.write(USAGE);
      return 0;
    }
    if (sub === 'rotate-master-key') return runRotateMasterKey(rest, io);
    throw new UsageError(`unknown admin command "${sub}"`);
  },
};
