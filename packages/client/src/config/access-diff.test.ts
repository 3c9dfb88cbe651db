import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diffAccess } from './access-diff.js';
import { loadConfigText } from './config-loader.js';
import { emptyState } from './normalized-config.js';

const load = (text: string) => loadConfigText(text).config;
const brief = (d: ReturnType<typeof diffAccess>) =>
  d.changes.map((c) => `${c.change} ${c.principal} ${c.action} ${c.resource} (${c.before} -> ${c.after})`);

const READ = `
buckets:
  data: {}
policies:
  read:
    document:
      Version: "2012-10-17"
      Statement:
        - { Effect: Allow, Action: [s3:GetObject, s3:ListBucket], Resource: ["arn:aws:s3:::data", "arn:aws:s3:::data/*"] }
users:
  alice: { policies: [read] }
`;

describe('diffAccess', () => {
  it('shows what a new user gains, only on the resource types each action applies to', () => {
    const d = diffAccess(load(READ), emptyState());
    assert.deepEqual(brief(d), [
      'gain user/alice s3:ListBucket arn:aws:s3:::data (denied -> allowed)',
      'gain user/alice s3:GetObject arn:aws:s3:::data/* (denied -> allowed)',
    ]);
    assert.equal(d.truncated, false);
  });

  it('is empty when nothing changes, and shows a loss when an attachment goes', () => {
    assert.deepEqual(diffAccess(load(READ), load(READ)).changes, []);
    const d = diffAccess(load(READ.replace('policies: [read]', 'policies: []')), load(READ));
    assert.deepEqual(
      d.changes.map((c) => `${c.change} ${c.action}`),
      ['loss s3:ListBucket', 'loss s3:GetObject'],
    );
  });

  it('scopes a role assignment to one model version, not its siblings', () => {
    const file = `
users: { bob: {} }
workspaces:
  ws:
    models:
      m: { versions: { "1": { artifact: s3://data/1 }, "2": { artifact: s3://data/2 } } }
roleAssignments:
  - { principal: user/bob, role: ModelReader, scope: workspace/ws/model/m/version/1 }
`;
    const d = diffAccess(load(file), load(file.replace(/roleAssignments:[\s\S]*$/, '')));
    const resources = new Set(d.changes.map((c) => c.resource));
    assert.deepEqual([...resources], ['workspace/ws/model/m/version/1']);
    assert.ok(d.changes.some((c) => c.action === 'ml:DownloadModelVersion' && c.change === 'gain'));
  });

  it('instantiates the aws:username variable per user and reports network conditions as conditional', () => {
    const file = `
buckets: { home: {} }
policies:
  own:
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: s3:GetObject
          Resource: "arn:aws:s3:::home/\${aws:username}/*"
        - Effect: Allow
          Action: s3:PutObject
          Resource: "arn:aws:s3:::home/\${aws:username}/*"
          Condition: { IpAddress: { "aws:SourceIp": 10.0.0.0/8 } }
groups:
  team: { policies: [own] }
users:
  ann: { groups: [team] }
  ben: { groups: [team] }
`;
    const d = diffAccess(load(file), emptyState());
    const ann = brief(d).filter((l) => l.includes('user/ann'));
    assert.deepEqual(ann, [
      'gain user/ann s3:GetObject arn:aws:s3:::home/ann/* (denied -> allowed)',
      'gain user/ann s3:PutObject arn:aws:s3:::home/ann/* (denied -> conditional)',
    ]);
    assert.ok(!brief(d).some((l) => l.includes('user/ann') && l.includes('home/ben')));
  });

  it('covers SCIM group mappings through a stand-in member', () => {
    const file = `
workspaces:
  ws: { models: { m: { versions: { "1": { artifact: s3://data/1 } } } } }
scimGroupMappings:
  ml-readers: { role: ModelReader, scope: workspace/ws/model/m }
`;
    const d = diffAccess(load(file), load(file.replace(/scimGroupMappings:[\s\S]*$/, '')));
    assert.ok(d.changes.length > 0);
    assert.ok(d.changes.every((c) => c.principal === 'members of group/ml-readers' && c.change === 'gain'));
  });

  it('stops at maxChecks and says so', () => {
    const d = diffAccess(load(READ), emptyState(), { maxChecks: 1 });
    assert.equal(d.truncated, true);
    assert.equal(d.checked, 1);
  });
});
