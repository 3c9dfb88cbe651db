import { UsageError } from '../cli-io.js';
import {
  apiCommand,
  clientFor,
  intFlag,
  parseFlags,
  positionals,
  printJson,
  printTable,
  time,
} from './api-command-support.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `1h`, `30m`, `2d` → milliseconds; an ISO time → that instant. */
export function parseSince(value: string, now: number): number {
  const rel = /^(\d+)([smhd])$/.exec(value);
  if (rel) return now - Number(rel[1]) * UNITS[rel[2]!]!;
  const at = Date.parse(value);
  if (Number.isNaN(at))
    throw new UsageError(`--since takes a duration (30m, 1h, 7d) or an ISO time; got "${value}"`);
  return at;
}

/** `aiam audit`: query the audit trail. */
export const auditCommand = apiCommand(
  'audit',
  'query the audit trail (decisions, authentication failures, changes)',
  `audit [--since 1h|ISO] [--until ISO] [--principal ARN] [--action A] [--decision allowed|explicitDeny|implicitDeny|unauthenticated] [--limit N] [--json]

Newest first. Default: the last hour, at most 100 records.`,
  async (args, io) => {
    const f = parseFlags(args, {
      since: { type: 'string' },
      until: { type: 'string' },
      principal: { type: 'string' },
      action: { type: 'string' },
      decision: { type: 'string' },
      limit: { type: 'string' },
    });
    positionals(f.positionals, []);
    const now = Date.now();
    const until = f.string('until');
    const page = await clientFor(io).queryAudit({
      from: parseSince(f.string('since') ?? '1h', now),
      ...(until ? { to: parseSince(until, now) } : {}),
      ...(f.string('principal') ? { principal: f.string('principal')! } : {}),
      ...(f.string('action') ? { action: f.string('action')! } : {}),
      ...(f.string('decision') ? { decision: f.string('decision')! } : {}),
      limit: intFlag('limit', f.string('limit')) ?? 100,
    });
    if (f.flag('json')) printJson(io, page);
    else
      printTable(
        io,
        ['time', 'decision', 'action', 'principal', 'resource', 'source', 'id'],
        page.items.map((r) => [
          time(r.time),
          r.decision ?? r.errorCode,
          r.action,
          r.principal,
          r.resource,
          r.sourceIp,
          r.id,
        ]),
      );
    return 0;
  },
);
