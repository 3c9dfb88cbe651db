import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkConfigValue, formatConfigIssue, loadConfigText } from './config-loader.js';
import type { AccessConfig } from './config-schema.js';
import { exportConfig } from './export-config.js';
import { planChanges } from './plan.js';

const doc = (action: string, resource: string) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: action, Resource: resource }],
});

const tags = fc.dictionary(
  fc.constantFrom('team', 'env', 'cost center', 'owner'),
  fc.string({ maxLength: 12 }),
  {
    maxKeys: 3,
  },
);
const subset = <T>(items: readonly T[]) => fc.subarray([...items]);

/** Random files whose references all resolve, built from small name pools. */
const configs: fc.Arbitrary<AccessConfig> = fc
  .record({
    policyNames: subset(['read', 'write', 'list']),
    groupNames: subset(['ml', 'ops']),
    userNames: subset(['alice', 'bob', 'carol']),
    wsNames: subset(['ws1', 'ws2']),
    seed: fc.nat(),
  })
  .chain(({ policyNames, groupNames, userNames, wsNames }) =>
    fc.record({
      policies: fc.constant(
        Object.fromEntries(
          policyNames.map((p) => [p, { document: doc('s3:GetObject', `arn:aws:s3:::data/${p}/*`) }]),
        ),
      ),
      groups: fc
        .tuple(...groupNames.map(() => subset(policyNames)))
        .map((ps) => Object.fromEntries(groupNames.map((g, i) => [g, { policies: ps[i]! }]))),
      users: fc
        .tuple(
          ...userNames.map(() =>
            fc.record({
              tags,
              policies: subset(policyNames),
              groups: subset(groupNames),
              accessKeys: subset(['ci', 'laptop']).chain((keys) =>
                fc.tuple(
                  ...keys.map((k) =>
                    fc.constantFrom<
                      AccessConfig['users'] extends unknown
                        ? string | { name: string; status: 'Inactive' }
                        : never
                    >(k, { name: k, status: 'Inactive' }),
                  ),
                ),
              ),
              path: fc.constantFrom('/', '/eng/'),
            }),
          ),
        )
        .map((us) => Object.fromEntries(userNames.map((u, i) => [u, us[i]!]))),
      workspaces: fc
        .tuple(
          ...wsNames.map(() =>
            fc.record({
              identity: fc.constantFrom('SystemAssigned', 'None'),
              tags,
              versions: fc.integer({ min: 1, max: 3 }),
              authMode: fc.constantFrom('key', 'token'),
              split: fc.integer({ min: 0, max: 100 }),
            }),
          ),
        )
        .map((ws) =>
          Object.fromEntries(
            wsNames.map((w, i) => {
              const x = ws[i]!;
              const versions = Object.fromEntries(
                Array.from({ length: x.versions }, (_, v) => [
                  String(v + 1),
                  { artifact: `s3://data/${w}/${v + 1}` },
                ]),
              );
              return [
                w,
                {
                  identity: x.identity,
                  tags: x.tags,
                  models: { m: { versions } },
                  endpoints: {
                    [`${w}-ep`]: {
                      authMode: x.authMode,
                      identity: 'SystemAssigned',
                      deployments: {
                        blue: { upstream: 'http://127.0.0.1:8001', model: 'm:1', traffic: x.split },
                        green: {
                          upstream: 'http://127.0.0.1:8002',
                          model: `m:${x.versions}`,
                          traffic: 100 - x.split,
                        },
                      },
                    },
                  },
                },
              ];
            }),
          ),
        ),
      roleAssignments: fc.subarray(
        wsNames.flatMap((w) => [
          ...userNames.map((u) => ({
            principal: `user/${u}`,
            role: 'ModelReader',
            scope: `workspace/${w}/model/m/version/1`,
          })),
          ...groupNames.map((g) => ({
            principal: `group/${g}`,
            role: 'EndpointInvoker',
            scope: `workspace/${w}/endpoint/${w}-ep`,
          })),
          { principal: `workspace/${w}/endpoint/${w}-ep`, role: 'DataReader', scope: 'bucket/data' },
        ]),
      ),
      buckets: fc.constant({ data: {} }),
    }),
  ) as fc.Arbitrary<AccessConfig>;

describe('planChanges (properties)', () => {
  it('plan(x, x) is empty, and so is plan(load(export(x)), x)', () => {
    fc.assert(
      fc.property(configs, (raw) => {
        const result = checkConfigValue(raw);
        assert.deepEqual(result.errors.map(formatConfigIssue), []);
        const config = result.config!;
        assert.deepEqual(planChanges(config, config).changes, []);
        const text = exportConfig(config);
        assert.deepEqual(planChanges(loadConfigText(text).config, config).changes, [], text);
      }),
      { numRuns: 150 },
    );
  });

  it('plan(x, empty) creates exactly the resources of x, and applying it back is a no-op', () => {
    fc.assert(
      fc.property(configs, configs, (a, b) => {
        const x = checkConfigValue(a).config!;
        const y = checkConfigValue(b).config!;
        const plan = planChanges(x, y);
        // Every change names a resource of x or of y, and none appears twice.
        const addresses = plan.changes.map((c) => c.address);
        assert.equal(new Set(addresses).size, addresses.length);
        // The reverse plan touches the same resources that differ.
        const back = planChanges(y, x);
        const differing = (p: typeof plan) =>
          p.changes
            .filter((c) => c.action === 'update' || c.action === 'replace')
            .map((c) => c.address)
            .sort();
        assert.deepEqual(differing(plan), differing(back));
      }),
      { numRuns: 100 },
    );
  });
});
