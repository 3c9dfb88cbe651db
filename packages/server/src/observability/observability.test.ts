import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { AuditWriter, type AuditEntry } from './audit-writer.js';
import { createLogger, logLevelFromEnv } from './logger.js';
import { MetricsRegistry } from './metrics.js';
import { REDACTED, redact, redactString } from './redact.js';

describe('redact', () => {
  it('replaces fields named like credentials, at any depth, keeping key ids', () => {
    const out = redact({
      headers: {
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIA/…, Signature=abc',
        'x-amz-security-token': 'FQoG…',
        cookie: 'sid=1',
        'user-agent': 'aws-cli/2',
      },
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      nested: [{ client_secret: 's', password: 'p', sessionToken: 't', apiKey: 'k' }],
    });
    assert.deepEqual(out, {
      headers: {
        authorization: REDACTED,
        'x-amz-security-token': REDACTED,
        cookie: REDACTED,
        'user-agent': 'aws-cli/2',
      },
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: REDACTED,
      nested: [{ client_secret: REDACTED, password: REDACTED, sessionToken: REDACTED, apiKey: REDACTED }],
    });
  });

  it('scrubs secrets inside strings', () => {
    const url =
      '/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2026&X-Amz-Signature=deadbeef&X-Amz-Security-Token=tok';
    const out = redactString(url);
    assert.doesNotMatch(out, /deadbeef|tok$|AKIA%2F/);
    assert.match(out, /X-Amz-Algorithm=AWS4-HMAC-SHA256/);
    assert.equal(redactString('Authorization: Bearer abc.def.ghi'), `Authorization: Bearer ${REDACTED}`);
    assert.doesNotMatch(redactString('key aiam_ek_ABCdef123 used'), /ABCdef123/);
    assert.doesNotMatch(redactString('connect postgres://app:s3cr3t@db:5432/aiam failed'), /s3cr3t/);
    assert.doesNotMatch(redactString('aws_secret_access_key = wJalrXUtnFEMI'), /wJalr/);
  });

  it('handles errors, cycles, buffers and depth', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    const err = Object.assign(new Error('bad token=xyz'), { code: 'E_X' });
    const out = redact({ a, err, buf: Buffer.from('secret bytes') }) as Record<string, unknown>;
    assert.deepEqual(out.a, { name: 'a', self: '[Circular]' });
    assert.deepEqual(out.err, { name: 'Error', message: `bad token=${REDACTED}`, code: 'E_X' });
    assert.equal(out.buf, '[12 bytes]');
  });
});

describe('logger', () => {
  it('writes one JSON object per line at or above its level, redacted', () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'info',
      write: (l) => lines.push(l),
      clock: fixedClock('2026-01-02T03:04:05Z'),
    });
    log.debug('hidden');
    log.info('request', { headers: { authorization: 'Bearer abc' }, status: 200 });
    log.child({ component: 'audit' }).warn('slow');
    assert.equal(lines.length, 2);
    assert.deepEqual(JSON.parse(lines[0]!), {
      time: '2026-01-02T03:04:05.000Z',
      level: 'info',
      msg: 'request',
      headers: { authorization: REDACTED },
      status: 200,
    });
    assert.equal(JSON.parse(lines[1]!).component, 'audit');
    assert.equal(log.enabled('debug'), false);
  });

  it('reads AIAM_LOG_LEVEL and is silent under the test runner', () => {
    assert.equal(logLevelFromEnv({ AIAM_LOG_LEVEL: 'DEBUG' }), 'debug');
    assert.equal(logLevelFromEnv({ NODE_TEST_CONTEXT: 'child-v8' }), 'silent');
    assert.equal(logLevelFromEnv({ AIAM_LOG_LEVEL: 'warn', NODE_TEST_CONTEXT: 'child' }), 'warn');
    assert.equal(logLevelFromEnv({ AIAM_LOG_LEVEL: 'loud' }), 'info');
    const lines: string[] = [];
    createLogger({ level: 'silent', write: (l) => lines.push(l) }).error('x');
    assert.equal(lines.length, 0);
  });
});

describe('metrics registry', () => {
  it('renders counters, gauges and histograms in exposition format 0.0.4', () => {
    const r = new MetricsRegistry();
    const c = r.counter('aiam_requests_total', 'Requests\nanswered.', ['route', 'status']);
    c.inc(1, 'GET /a', '200');
    c.labels('GET /a', '200').inc(2);
    c.inc(1, 'say "hi"\\', '500');
    r.gauge('aiam_queue', 'Queue length.', [], (g) => g.set(7));
    const h = r.histogram('aiam_latency_seconds', 'Latency.', ['route'], [0.1, 1]);
    h.observe(0.05, 'r');
    h.observe(0.5, 'r');
    h.observe(5, 'r');
    assert.equal(
      r.render(),
      [
        '# HELP aiam_requests_total Requests\\nanswered.',
        '# TYPE aiam_requests_total counter',
        'aiam_requests_total{route="GET /a",status="200"} 3',
        'aiam_requests_total{route="say \\"hi\\"\\\\",status="500"} 1',
        '# HELP aiam_queue Queue length.',
        '# TYPE aiam_queue gauge',
        'aiam_queue 7',
        '# HELP aiam_latency_seconds Latency.',
        '# TYPE aiam_latency_seconds histogram',
        'aiam_latency_seconds_bucket{route="r",le="0.1"} 1',
        'aiam_latency_seconds_bucket{route="r",le="1"} 2',
        'aiam_latency_seconds_bucket{route="r",le="+Inf"} 3',
        'aiam_latency_seconds_sum{route="r"} 5.55',
        'aiam_latency_seconds_count{route="r"} 3',
        '',
      ].join('\n'),
    );
  });

  it('shares a metric registered twice alike and refuses a clash', () => {
    const r = new MetricsRegistry();
    assert.equal(r.counter('x_total', 'x', ['a']), r.counter('x_total', 'x', ['a']));
    assert.throws(() => r.gauge('x_total', 'x', ['a']), /already registered/);
    assert.throws(() => r.counter('bad-name', 'x'), /invalid metric name/);
    assert.throws(() => r.counter('y_total', 'y', ['le']), /invalid label/);
    assert.throws(() => r.counter('z_total', 'z', ['a']).inc(1), /takes labels/);
    assert.throws(() => r.counter('w_total', 'w').inc(-1), /cannot decrease/);
  });
});

describe('AuditWriter', () => {
  const entry = (i: number): AuditEntry => ({ time: i, action: 'iam:GetUser', requestId: `r${i}` });

  it('batches records off the request path and flushes on close', async () => {
    const batches: AuditEntry[][] = [];
    const w = new AuditWriter({
      sink: { append: async (r) => void batches.push([...r]) },
      batchSize: 2,
      flushIntervalMs: 10_000,
    });
    for (let i = 0; i < 5; i++) w.record(entry(i));
    await w.close();
    assert.deepEqual(
      batches.flat().map((r) => r.time),
      [0, 1, 2, 3, 4],
    );
    assert.ok(batches.every((b) => b.length <= 2));
    assert.equal(w.dropped, 0);
  });

  it('counts and logs drops when the queue is full, never silently', async () => {
    const metrics = new MetricsRegistry();
    const logs: string[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const written: AuditEntry[] = [];
    const w = new AuditWriter({
      sink: {
        append: async (r) => {
          await gate;
          written.push(...r);
        },
      },
      maxQueue: 3,
      batchSize: 100,
      flushIntervalMs: 1,
      metrics,
      logger: createLogger({ level: 'error', write: (l) => logs.push(l) }),
    });
    for (let i = 0; i < 3; i++) w.record(entry(i));
    await new Promise((r) => setTimeout(r, 20)); // the first batch is now being written
    for (let i = 3; i < 10; i++) w.record(entry(i));
    assert.equal(w.pending, 3);
    assert.equal(w.dropped, 4);
    assert.match(metrics.render(), /aiam_audit_records_dropped_total 4/);
    assert.match(logs[0] ?? '', /audit records dropped/);
    release();
    await w.close();
    assert.equal(written.length, 6);
  });

  it('retries a failed batch and reports what it could not write at shutdown', async () => {
    let fail = true;
    const written: AuditEntry[] = [];
    const w = new AuditWriter({
      sink: {
        append: async (r) => {
          if (fail) throw new Error('store down');
          written.push(...r);
        },
      },
      flushIntervalMs: 1,
    });
    w.record(entry(1));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(w.pending, 1, 'kept for retry');
    fail = false;
    await w.flush();
    assert.equal(written.length, 1);

    fail = true;
    w.record(entry(2));
    await w.close(50);
    assert.equal(w.dropped, 1);
    w.record(entry(3));
    assert.equal(w.dropped, 2, 'records after close are counted as dropped');
  });
});
