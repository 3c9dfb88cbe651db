// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ARN templates are written ${Name}.
import { VALIDATION_CHECKS } from '../validate-policy.js';
import { type Catalog, catalog as defaultCatalog } from './catalog.js';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

function code(text: string): string {
  return `\`${text}\``;
}

/**
 * Renders the catalog as Markdown: `docs/actions.md` is this function's output, written by
 * `scripts/generate-actions-doc.ts` and checked for staleness by a test, so the documentation
 * can never drift from what the validator and the evaluator use.
 */
export function renderActionsDoc(catalog: Catalog = defaultCatalog): string {
  const out: string[] = [];
  out.push('# aiam actions, resource types and condition keys');
  out.push('');
  out.push(
    '<!-- Generated from packages/policy/src/catalog/actions.json by scripts/generate-actions-doc.ts; do not edit. -->',
  );
  out.push('');
  out.push(
    'Every action aiam authorizes, the resources it applies to and the condition keys it supports. ' +
      'Policies name actions as `service:Action` (case-insensitive, globs allowed). `aiam validate` ' +
      'reports actions and condition keys that are not listed here. An action with no resource type ' +
      'applies to `"Resource": "*"` only. *Data* actions are granted by role definitions through ' +
      '`dataActions`, *control* actions through `actions`.',
  );
  out.push('');
  out.push('Services: ' + catalog.services.map((s) => `[${code(s.prefix)}](#${s.prefix})`).join(' · '));
  out.push('');
  for (const s of catalog.services) {
    out.push(`## ${s.prefix}`);
    out.push('');
    out.push(`${s.title}.`);
    out.push('');
    out.push('| Action | Access level | Plane | Resource types | Condition keys | Description |');
    out.push('|---|---|---|---|---|---|');
    for (const a of s.actions) {
      out.push(
        `| ${code(a.name)} | ${a.accessLevel} | ${a.plane} | ${a.resourceTypes.join(', ') || '`*`'} | ${
          a.conditionKeys.map(code).join(', ') || '—'
        } | ${cell(a.description)} |`,
      );
    }
    out.push('');
    if (s.resourceTypes.length > 0) {
      out.push(`### ${s.prefix} resource types`);
      out.push('');
      out.push('| Resource type | ARN | Description |');
      out.push('|---|---|---|');
      for (const t of s.resourceTypes) out.push(`| ${t.name} | ${code(t.arn)} | ${cell(t.description)} |`);
      out.push('');
    }
    if (s.conditionKeys.length > 0) {
      out.push(`### ${s.prefix} condition keys`);
      out.push('');
      out.push('| Key | Type | Description |');
      out.push('|---|---|---|');
      for (const k of s.conditionKeys) out.push(`| ${code(k.name)} | ${k.type} | ${cell(k.description)} |`);
      out.push('');
    }
  }
  out.push('## Global condition keys');
  out.push('');
  out.push('Set by aiam on every request where they apply; usable with any action.');
  out.push('');
  out.push('| Key | Type | Description |');
  out.push('|---|---|---|');
  for (const k of catalog.globalConditionKeys)
    out.push(`| ${code(k.name)} | ${k.type} | ${cell(k.description)} |`);
  out.push('');
  out.push(
    'AWS global keys that aiam never sets (a condition on one sees a missing key; `aiam validate` warns): ' +
      catalog.unsupportedGlobalConditionKeys.map(code).join(', ') +
      '.',
  );
  out.push('');
  out.push('## Built-in role definitions');
  out.push('');
  out.push('Azure-style roles to assign at a scope (`roleAssignments` in the configuration).');
  out.push('');
  out.push('| Role | Description | actions | notActions | dataActions | notDataActions |');
  out.push('|---|---|---|---|---|---|');
  const list = (xs: readonly string[]) => xs.map(code).join(', ') || '—';
  for (const r of catalog.roleDefinitions) {
    out.push(
      `| ${r.name} | ${cell(r.description)} | ${list(r.actions)} | ${list(r.notActions)} | ${list(r.dataActions)} | ${list(r.notDataActions)} |`,
    );
  }
  out.push('');
  out.push('## Validation checks');
  out.push('');
  out.push(
    '`aiam validate` (and every API that stores a policy) reports the grammar errors of the parser ' +
      '(MISSING_STATEMENT, INVALID_EFFECT, UNSUPPORTED_ELEMENT_COMBINATION, INVALID_CONDITION_OPERATOR, ...) ' +
      "and these checks. Codes are IAM Access Analyzer's where it has the same check; those marked aiam are aiam's own.",
  );
  out.push('');
  out.push('| Issue code | Finding type | Check |');
  out.push('|---|---|---|');
  for (const c of VALIDATION_CHECKS) {
    out.push(`| ${code(c.issueCode)}${c.aiam ? ' (aiam)' : ''} | ${c.findingType} | ${cell(c.summary)} |`);
  }
  out.push('');
  return out.join('\n');
}
