import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { InputError, NotFoundError, ServiceUnavailableError } from '../errors.js';
import {
  type DeploymentDescription,
  DeploymentSelector,
  httpHealthProbe,
  type Scheduler,
} from './deployment-selector.js';

const blue: DeploymentDescription = { name: 'blue', upstreamUrl: 'http://127.0.0.1:9001', trafficWeight: 90 };
const green: DeploymentDescription = {
  name: 'green',
  upstreamUrl: 'http://127.0.0.1:9002',
  trafficWeight: 10,
};
const shadow: DeploymentDescription = {
  name: 'shadow',
  upstreamUrl: 'http://127.0.0.1:9003',
  trafficWeight: 0,
};

/** A scheduler whose timers fire only when the test says so. */
function manualScheduler(): Scheduler & { advance(ms: number): Promise<void>; pending(): number[] } {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimeout(fn, ms) {
      seq++;
      timers.set(seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    pending: () => [...timers.values()].map((t) => t.at - now),
    async advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers.entries()]
          .filter(([, t]) => t.at <= until)
          .sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
        // let the probe's promise settle
        for (let i = 0; i < 5; i++) await Promise.resolve();
      }
      now = until;
    },
  };
}

describe('DeploymentSelector: choosing', () => {
  it('draws by traffic weight with the injected randomness', () => {
    let r = 0;
    const selector = new DeploymentSelector([blue, green, shadow], { random: () => r });
    r = 0;
    assert.equal(selector.select().name, 'blue');
    r = 0.8999;
    assert.equal(selector.select().name, 'blue');
    r = 0.9;
    assert.equal(selector.select().name, 'green');
    r = 0.99999;
    assert.equal(selector.select().name, 'green');
  });

  it('splits traffic close to the weights over many draws', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const selector = new DeploymentSelector([blue, green], { random });
    let greens = 0;
    for (let i = 0; i < 10_000; i++) if (selector.select().name === 'green') greens++;
    assert.ok(greens > 800 && greens < 1200, `green got ${greens} of 10000`);
  });

  it('honours a pinned deployment, even at weight 0, from the azureml-model-deployment header', () => {
    const selector = new DeploymentSelector([blue, green, shadow], { random: () => 0 });
    assert.equal(selector.selectFor({ 'azureml-model-deployment': 'shadow' }).name, 'shadow');
    assert.equal(selector.selectFor({}).name, 'blue');
    assert.throws(() => selector.selectFor({ 'azureml-model-deployment': 'nope' }), InputError);
    assert.throws(() => selector.selectFor({ 'azureml-model-deployment': ['blue', 'green'] }), InputError);
  });

  it('narrows the draw to accepted deployments (e.g. those serving the named model)', () => {
    const a = { ...blue, trafficWeight: 50, model: 'llama' };
    const b = { ...green, trafficWeight: 30, model: 'mistral' };
    const c = { name: 'c', upstreamUrl: 'http://127.0.0.1:9004', trafficWeight: 20, model: 'mistral' };
    let r = 0;
    const selector = new DeploymentSelector([a, b, c], { random: () => r });
    const mistral = (d: { model: string }) => d.model === 'mistral';
    r = 0.59;
    assert.equal(selector.select(undefined, mistral).name, 'green');
    r = 0.61;
    assert.equal(selector.select(undefined, mistral).name, 'c');
    assert.throws(
      () => selector.select('blue', mistral, "model 'mistral'"),
      /does not serve model 'mistral'/,
    );
    assert.throws(() => selector.select(undefined, () => false), NotFoundError);
  });

  it('refuses invalid deployment lists with actionable errors', () => {
    assert.throws(() => new DeploymentSelector([blue, { ...green, trafficWeight: 20 }]), /add up to 110/);
    assert.throws(() => new DeploymentSelector([blue, { ...green, name: 'blue' }]), /appears twice/);
    assert.throws(() => new DeploymentSelector([{ ...blue, trafficWeight: 100.5 }]), /whole number 0..100/);
    assert.throws(
      () => new DeploymentSelector([{ ...blue, trafficWeight: 100, upstreamUrl: 'ftp://x' }]),
      /http or https/,
    );
    assert.throws(() => new DeploymentSelector([{ ...blue, trafficWeight: 100, name: '../x' }]), /invalid/);
    assert.throws(
      () => new DeploymentSelector([{ ...blue, trafficWeight: 100, upstreamUrl: 'http://u:p@h' }]),
      /credentials/,
    );
  });

  it('answers 503 (ServiceUnavailableError) when only weight-0 deployments exist', () => {
    const selector = new DeploymentSelector([shadow]);
    assert.throws(() => selector.select(), ServiceUnavailableError);
  });
});

describe('DeploymentSelector: passive health', () => {
  it('takes a deployment out after N consecutive failures and spreads its share', () => {
    const clock = fixedClock(0);
    const changes: string[] = [];
    const selector = new DeploymentSelector([blue, green], {
      random: () => 0,
      clock,
      failureThreshold: 3,
      onHealthChange: (n, h) => changes.push(`${n}:${h}`),
    });
    selector.recordFailure('blue');
    selector.recordFailure('blue');
    selector.recordSuccess('blue'); // resets the run
    selector.recordFailure('blue');
    selector.recordFailure('blue');
    assert.equal(selector.isHealthy('blue'), true);
    selector.recordFailure('blue');
    assert.equal(selector.isHealthy('blue'), false);
    assert.deepEqual(changes, ['blue:false']);
    assert.equal(selector.select().name, 'green');
    assert.throws(() => selector.select('blue'), ServiceUnavailableError, 'a pin does not bypass health');
  });

  it('puts it back on probation after the ejection time, and doubles the time if it fails again', () => {
    const clock = fixedClock(0);
    const selector = new DeploymentSelector([blue, green], { clock, failureThreshold: 2, ejectionMs: 1000 });
    selector.recordFailure('green');
    selector.recordFailure('green');
    clock.set(999);
    assert.equal(selector.isHealthy('green'), false);
    clock.set(1000);
    assert.equal(selector.isHealthy('green'), true);
    selector.recordFailure('green'); // one failure on probation ejects again
    assert.equal(selector.isHealthy('green'), false);
    clock.set(1000 + 1999);
    assert.equal(selector.isHealthy('green'), false);
    clock.set(1000 + 2000);
    assert.equal(selector.isHealthy('green'), true);
  });

  it('answers 503 when every deployment is out', () => {
    const selector = new DeploymentSelector([blue, green], { failureThreshold: 1, clock: fixedClock(0) });
    selector.recordFailure('blue');
    selector.recordFailure('green');
    assert.throws(
      () => selector.select(),
      (e: unknown) => e instanceof ServiceUnavailableError && /No healthy/.test(e.message),
    );
  });

  it('reads forward results: 502-504 and timeouts count, client aborts do not', () => {
    const selector = new DeploymentSelector([blue, green], { failureThreshold: 2, clock: fixedClock(0) });
    selector.recordResult('blue', { requestId: 'a', outcome: 'client-aborted' });
    selector.recordResult('blue', { requestId: 'b', outcome: 'client-aborted' });
    assert.equal(selector.isHealthy('blue'), true);
    selector.recordResult('blue', { requestId: 'c', outcome: 'completed', status: 503 });
    selector.recordResult('blue', { requestId: 'd', outcome: 'timeout' });
    assert.equal(selector.isHealthy('blue'), false);
    selector.recordResult('green', { requestId: 'e', outcome: 'completed', status: 500 });
    selector.recordResult('green', { requestId: 'f', outcome: 'completed', status: 400 });
    assert.equal(
      selector.isHealthy('green'),
      true,
      'a 500 or 4xx is the model speaking, not a dead deployment',
    );
  });
});

describe('DeploymentSelector: active probe', () => {
  it('ejects on a failed probe, retries with exponential backoff, and readmits when it recovers', async () => {
    const scheduler = manualScheduler();
    let greenUp = true;
    const probed: string[] = [];
    const selector = new DeploymentSelector([blue, green], {
      scheduler,
      clock: fixedClock(0),
      probe: {
        intervalMs: 1000,
        maxBackoffMs: 4000,
        check: async (d) => {
          probed.push(d.name);
          return d.name === 'blue' || greenUp;
        },
      },
    });
    selector.start();
    await scheduler.advance(1000);
    assert.deepEqual(probed.sort(), ['blue', 'green']);
    greenUp = false;
    await scheduler.advance(1000);
    assert.equal(selector.isHealthy('green'), false);
    // Backoff: 1000, then 2000, then 4000, capped at 4000.
    probed.length = 0;
    await scheduler.advance(1000);
    assert.equal(probed.filter((n) => n === 'green').length, 1);
    await scheduler.advance(1999);
    assert.equal(probed.filter((n) => n === 'green').length, 1);
    await scheduler.advance(1);
    assert.equal(probed.filter((n) => n === 'green').length, 2);
    await scheduler.advance(4000);
    assert.equal(probed.filter((n) => n === 'green').length, 3);
    await scheduler.advance(4000);
    assert.equal(probed.filter((n) => n === 'green').length, 4, 'backoff is capped');
    assert.equal(selector.isHealthy('green'), false, 'the ejection clock does not readmit while probing');
    greenUp = true;
    await scheduler.advance(4000);
    assert.equal(selector.isHealthy('green'), true);
    selector.stop();
    assert.deepEqual(scheduler.pending(), []);
  });

  it('a passing probe readmits a deployment that passive checks ejected', async () => {
    const scheduler = manualScheduler();
    const selector = new DeploymentSelector([blue, green], {
      scheduler,
      failureThreshold: 1,
      probe: { intervalMs: 500, check: async () => true },
    });
    selector.start();
    selector.recordFailure('blue');
    assert.equal(selector.isHealthy('blue'), false);
    await scheduler.advance(500);
    assert.equal(selector.isHealthy('blue'), true);
    selector.stop();
  });

  it('httpHealthProbe reports 2xx as healthy and anything else (or nothing) as not', async () => {
    let status = 200;
    const server = http.createServer((req, res) => {
      res.writeHead(req.url === '/base/health' ? status : 404);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/base`;
    const probe = httpHealthProbe('/health', 500);
    const d = { name: 'x', upstreamUrl: url, trafficWeight: 100 };
    assert.equal(await probe(d), true);
    status = 503;
    assert.equal(await probe(d), false);
    await new Promise((r) => server.close(r));
    assert.equal(await probe(d), false);
  });
});
