import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffAccess } from './access-diff.js';
import { loadConfigText } from './config-loader.js';
import { emptyState, type NormalizedState } from './normalized-config.js';
import { planChanges } from './plan.js';
import { planToJson, renderPlan } from './render-plan.js';

const load = (text: string) => loadConfigText(text).config;
const FILE = `
buckets: { data: {} }
policies:
  read:
    document:
      Version: "2012-10-17"
      Statement: [{ Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::data/*" }]
users:
  alice: { policies: [read], accessKeys: [ci], tags: { team: ml } }
`;

describe('renderPlan', () => {
  it('renders creates, updates and deletes with counts and access changes', () => {
    const current: NormalizedState = {
      ...emptyState(),
      users: { old: { ...load('users: { x: {} }').users.x!, source: 'config' } },
    };
    const desired = load(FILE);
    const text = renderPlan(planChanges(desired, current), diffAccess(desired, current));
    assert.match(text, /^ {2}\+ policies\.read \(policy\)$/m);
    assert.match(
      text,
      /^ {2}\+ users\.alice\.accessKeys\.ci \(accessKey\) {2}# its secret is returned once/m,
    );
    assert.match(text, /^ {2}- users\.old \(user\)$/m);
    assert.match(text, /^ {6}tags: \{"team":"ml"\}$/m);
    assert.match(text, /^ {2}user\/alice\n {4}\+ s3:GetObject on arn:aws:s3:::data\/\*$/m);
    assert.match(text, /Plan: 4 to create, 0 to update, 0 to replace, 1 to delete \(0 unchanged\)\./);
    assert.match(text, /Access: 1 grant gained, 0 grants lost\./);
    assert.doesNotMatch(text, /\x1b\[/);
    assert.match(
      renderPlan(planChanges(desired, current), undefined, { color: true }),
      /\x1b\[32m\+\x1b\[0m/,
    );
  });

  it('says so when there is nothing to do, and shows field changes of an update', () => {
    assert.match(renderPlan(planChanges(load(FILE), load(FILE))), /^No changes\./);
    const text = renderPlan(planChanges(load(FILE.replace('team: ml', 'team: nlp')), load(FILE)));
    assert.match(text, /~ users\.alice \(user\)\n {6}tags: \{"team":"ml"\} -> \{"team":"nlp"\}/);
  });

  it('gives a JSON form with the same content', () => {
    const plan = planChanges(load(FILE), emptyState());
    const json = planToJson(plan, diffAccess(load(FILE), emptyState()));
    assert.equal(json.formatVersion, 1);
    assert.deepEqual(json.summary, plan.summary);
    assert.equal((json.accessChanges as unknown[]).length, 1);
    assert.doesNotThrow(() => JSON.stringify(json));
  });
});
