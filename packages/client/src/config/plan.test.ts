import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfigText } from './config-loader.js';
import { exportConfig } from './export-config.js';
import { emptyState, type NormalizedState } from './normalized-config.js';
import { isEmptyPlan, planChanges } from './plan.js';

const FILE = `
buckets:
  data: {}
policies:
  read:
    document:
      Version: "2012-10-17"
      Statement: [{ Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*" }]
groups:
  ml: { policies: [read] }
users:
  alice: { groups: [ml], accessKeys: [ci] }
roles:
  exec:
    trust:
      Version: "2012-10-17"
      Statement: [{ Effect: Allow, Principal: { AWS: "arn:aws:iam::123456789012:root" }, Action: sts:AssumeRole }]
workspaces:
  ws:
    identity: SystemAssigned
    models:
      m: { versions: { "1": { artifact: s3://data/m/1 }, "2": { artifact: s3://data/m/2 } } }
    endpoints:
      e:
        authMode: key
        identity: SystemAssigned
        deployments: { blue: { upstream: "http://127.0.0.1:8001", model: "m:1" } }
roleAssignments:
  - { principal: user/alice, role: ModelReader, scope: workspace/ws/model/m/version/1 }
  - { principal: workspace/ws/endpoint/e, role: DataReader, scope: bucket/data }
`;

const load = (text: string) => loadConfigText(text).config;
/** The state after an apply of `config`: every resource marked as created by config. */
function applied(config: NormalizedState): NormalizedState {
  const mark = (value: unknown, depth: number): unknown => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, depth > 0 ? mark(v, depth - 1) : v]));
  };
  const out: Record<string, Record<string, unknown>> = {};
  for (const [section, entries] of Object.entries(config)) {
    out[section] = {};
    for (const [name, value] of Object.entries(entries as Record<string, object>))
      out[section]![name] = { ...(mark(value, 0) as object), source: 'config' };
  }
  return out as unknown as NormalizedState;
}

describe('planChanges', () => {
  it('creates everything against an empty state, dependencies first', () => {
    const plan = planChanges(load(FILE), emptyState());
    assert.equal(plan.summary.delete, 0);
    assert.ok(plan.changes.every((c) => c.action === 'create'));
    const at = (address: string) => plan.changes.findIndex((c) => c.address === address);
    assert.ok(at('policies.read') >= 0 && at('policies.read') < at('groups.ml'));
    assert.ok(at('groups.ml') < at('users.alice'));
    assert.ok(at('users.alice') < at('users.alice.accessKeys.ci'));
    assert.ok(at('workspaces.ws.models.m.versions.1') < at('workspaces.ws.endpoints.e.deployments.blue'));
    assert.ok(at('buckets.data') < at('workspaces.ws.models.m.versions.1'));
    const assignment = plan.changes.filter((c) => c.kind === 'roleAssignment').map((c) => at(c.address));
    assert.ok(assignment.every((i) => i > at('workspaces.ws.endpoints.e') && i > at('users.alice')));
    const key = plan.changes[at('users.alice.accessKeys.ci')]!;
    assert.equal(key.returnsSecret, true);
  });

  it('is empty against the state the file produced', () => {
    const config = load(FILE);
    assert.ok(isEmptyPlan(planChanges(config, applied(config))));
  });

  it('shows field-level updates, and replaces a changed immutable field', () => {
    const before = applied(load(FILE));
    const after = load(
      FILE.replace('authMode: key', 'authMode: token').replace('s3://data/m/2', 's3://data/m/2b'),
    );
    const plan = planChanges(after, before);
    assert.deepEqual(
      plan.changes.map((c) => [c.action, c.address]),
      [
        ['replace', 'workspaces.ws.models.m.versions.2'],
        ['update', 'workspaces.ws.endpoints.e'],
      ],
    );
    assert.deepEqual(plan.changes[1]!.fields, [{ field: 'authMode', before: 'key', after: 'token' }]);
  });

  it('deletes in reverse dependency order, children with their parent', () => {
    const plan = planChanges(emptyState(), applied(load(FILE)));
    assert.ok(plan.changes.every((c) => c.action === 'delete'));
    const at = (address: string) => plan.changes.findIndex((c) => c.address === address);
    assert.ok(at('users.alice') < at('groups.ml') && at('groups.ml') < at('policies.read'));
    assert.ok(at('users.alice.accessKeys.ci') < at('users.alice'));
    assert.ok(at('workspaces.ws.endpoints.e.deployments.blue') < at('workspaces.ws.models.m.versions.1'));
    assert.ok(
      at('workspaces.ws') === plan.changes.length - 1 || at('workspaces.ws') > at('workspaces.ws.models.m'),
    );
    // Nested resources carry no source of their own in `applied`: they go with their workspace.
    assert.match(plan.changes[at('workspaces.ws.models.m')]!.reason ?? '', /deleted with workspaces\.ws/);
  });

  it('never deletes what SCIM or the API created unless the file claims it', () => {
    const current: NormalizedState = {
      ...emptyState(),
      users: {
        scimUser: { ...load('users: { x: {} }').users.x!, source: 'scim' },
        apiUser: { ...load('users: { x: {} }').users.x!, source: 'api' },
        old: { ...load('users: { x: { accessKeys: [k] } }').users.x!, source: 'config' },
      },
    };
    const plan = planChanges(emptyState(), current);
    assert.deepEqual(
      plan.changes.map((c) => `${c.action} ${c.address}`),
      ['delete users.old.accessKeys.k', 'delete users.old'],
    );
    assert.deepEqual(
      plan.unmanaged.map((u) => `${u.address} ${u.source}`),
      ['users.apiUser api', 'users.scimUser scim'],
    );
    const all = planChanges(emptyState(), current, { deleteUnowned: true });
    assert.ok(all.changes.some((c) => c.address === 'users.apiUser'));
    assert.ok(!all.changes.some((c) => c.address === 'users.scimUser'));
    // Claimed: the file declares the SCIM user, so it is updated like any other.
    const claimed = planChanges(load('users: { scimUser: { tags: { team: ml } } }'), current);
    assert.deepEqual(
      claimed.changes.filter((c) => c.address === 'users.scimUser').map((c) => [c.action, c.source]),
      [['update', 'scim']],
    );
  });

  it('deletes an access key the file no longer lists', () => {
    const before = applied(load('users: { a: { accessKeys: [old, new] } }'));
    const plan = planChanges(load('users: { a: { accessKeys: [new] } }'), before);
    assert.deepEqual(
      plan.changes.map((c) => `${c.action} ${c.address}`),
      ['delete users.a.accessKeys.old'],
    );
  });
});

describe('exportConfig', () => {
  it('round-trips: loading an export gives the same state, so the plan is empty', () => {
    const state = applied(load(FILE));
    const text = exportConfig(state);
    assert.ok(isEmptyPlan(planChanges(load(text), state)), text);
    assert.equal(exportConfig(load(text)), text, 'stable output');
    assert.doesNotMatch(text, /^\s*source:/m);
    assert.match(text, /Version: "2012-10-17"/, 'quoted, so YAML 1.1 readers see a string, not a date');
  });
});
