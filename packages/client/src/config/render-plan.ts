import type { AccessDiff } from './access-diff.js';
import type { ChangeAction, Plan, ResourceChange } from './plan.js';

/** Options of `renderPlan`. */
export interface RenderPlanOptions {
  /** ANSI colours (green +, yellow ~, red -); default false. */
  readonly color?: boolean;
  /** Longest rendering of one value before it is cut with `…`; default 160. */
  readonly maxValueLength?: number;
}

const SYMBOL: Record<ChangeAction, string> = { create: '+', update: '~', replace: '-/+', delete: '-' };
const COLOR: Record<ChangeAction | 'gain' | 'loss', string> = {
  create: '\x1b[32m',
  gain: '\x1b[32m',
  update: '\x1b[33m',
  replace: '\x1b[33m',
  delete: '\x1b[31m',
  loss: '\x1b[31m',
};
const RESET = '\x1b[0m';

function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v as object).length === 0;
}

function show(value: unknown, max: number): string {
  const text = value === undefined ? '(none)' : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function renderChange(
  c: ResourceChange,
  paint: (key: ChangeAction | 'gain' | 'loss', s: string) => string,
  max: number,
): string[] {
  const notes: string[] = [];
  if (c.reason) notes.push(c.reason);
  if (c.source && c.source !== 'config' && c.action !== 'delete')
    notes.push(`created by ${c.source}; the file now claims it`);
  if (c.returnsSecret) notes.push('its secret is returned once by apply: pass --secrets-out PATH to keep it');
  const head = `  ${paint(c.action, SYMBOL[c.action])} ${c.address} (${c.kind})${notes.length ? `  # ${notes.join('; ')}` : ''}`;
  const lines = [head];
  if (c.action === 'delete') return lines;
  for (const f of c.fields) {
    if (c.action === 'create') {
      if (!isEmptyValue(f.after)) lines.push(`      ${f.field}: ${show(f.after, max)}`);
    } else {
      lines.push(`      ${f.field}: ${show(f.before, max)} -> ${show(f.after, max)}`);
    }
  }
  return lines;
}

/**
 * The plan for people, in the manner of Terraform and Pulumi: one line per resource (`+`
 * create, `~` update, `-/+` replace, `-` delete) with its changed fields, then the access
 * changes grouped by principal (`+` gained, `-` lost), then the counts. Never contains a
 * secret: plans hold none.
 */
export function renderPlan(plan: Plan, access?: AccessDiff, options: RenderPlanOptions = {}): string {
  const paint = (key: ChangeAction | 'gain' | 'loss', s: string) =>
    options.color ? `${COLOR[key]}${s}${RESET}` : s;
  const max = options.maxValueLength ?? 160;
  const out: string[] = [];
  if (plan.changes.length === 0) {
    out.push('No changes. The server matches the file.');
  } else {
    out.push('Resource changes:', '');
    for (const c of plan.changes) out.push(...renderChange(c, paint, max));
  }

  if (access && (access.changes.length > 0 || access.truncated)) {
    out.push('', 'Access changes:');
    const byPrincipal = new Map<string, Map<string, string[]>>();
    for (const c of access.changes) {
      const lines = byPrincipal.get(c.principal) ?? new Map<string, string[]>();
      const qualifier =
        c.after === 'conditional' || (c.before === 'conditional' && c.after === 'denied')
          ? ' (under conditions)'
          : c.before === 'conditional'
            ? ' (now unconditionally)'
            : '';
      const key = `${c.change}\u0000${c.resource}\u0000${qualifier}`;
      lines.set(key, [...(lines.get(key) ?? []), c.action]);
      byPrincipal.set(c.principal, lines);
    }
    for (const [principal, lines] of byPrincipal) {
      out.push(`  ${principal}`);
      for (const [key, actions] of lines) {
        const [change, resource, qualifier] = key.split('\u0000') as ['gain' | 'loss', string, string];
        out.push(
          `    ${paint(change, change === 'gain' ? '+' : '-')} ${actions.join(', ')} on ${resource}${qualifier}`,
        );
      }
    }
    if (access.truncated)
      out.push(`  … stopped after ${access.checked} checks; the access diff above is incomplete.`);
  }
  if (access && access.notes.length > 0) {
    out.push('', 'Notes:');
    for (const n of access.notes) out.push(`  ${n}`);
  }

  const s = plan.summary;
  out.push(
    '',
    `Plan: ${s.create} to create, ${s.update} to update, ${s.replace} to replace, ${s.delete} to delete (${s.unchanged} unchanged).`,
  );
  if (access) {
    const gained = access.changes.filter((c) => c.change === 'gain').length;
    out.push(
      `Access: ${plural(gained, 'grant')} gained, ${plural(access.changes.length - gained, 'grant')} lost.`,
    );
  }
  if (plan.unmanaged.length > 0) {
    const bySource = new Map<string, number>();
    for (const u of plan.unmanaged)
      bySource.set(u.source ?? 'unknown', (bySource.get(u.source ?? 'unknown') ?? 0) + 1);
    const parts = [...bySource].map(([source, n]) => `${n} from ${source}`).join(', ');
    out.push(
      `Left alone: ${plural(plan.unmanaged.length, 'resource')} not in the file and not created by config (${parts}).`,
    );
  }
  return `${out.join('\n')}\n`;
}

/** The plan and access diff as one JSON value, for scripts and CI (`aiam plan --format json`). */
export function planToJson(plan: Plan, access?: AccessDiff): Record<string, unknown> {
  return {
    formatVersion: 1,
    summary: plan.summary,
    resourceChanges: plan.changes,
    unmanaged: plan.unmanaged,
    ...(access
      ? {
          accessChanges: access.changes,
          accessChecked: access.checked,
          accessTruncated: access.truncated,
          notes: access.notes,
        }
      : {}),
  };
}
