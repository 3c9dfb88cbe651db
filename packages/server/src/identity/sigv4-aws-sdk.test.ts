// The requests the stock AWS SDK for JavaScript v3 really sends (S3 and STS clients with their
// default middleware: flexible checksums, aws-chunked uploads, path-style keys), captured before
// they leave the process and given to the verifier.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  CopyObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { sha256Hex } from './sigv4-canonical-request.js';
import { type SigV4PayloadMode, type SigV4Request, SigV4Verifier } from './sigv4-verifier.js';

const credentials = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};

interface Captured {
  request: SigV4Request;
  body: unknown;
}

const sdkEscape = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** A request handler that records the signed request and fails the call (no server needed). */
function capturingHandler(into: Captured[]) {
  return {
    handle: async (req: {
      method: string;
      path: string;
      query?: Record<string, string | string[] | null>;
      headers: Record<string, string>;
      body?: unknown;
    }) => {
      const query: string[] = [];
      for (const [k, v] of Object.entries(req.query ?? {})) {
        if (v === null) query.push(sdkEscape(k));
        else for (const one of Array.isArray(v) ? v : [v]) query.push(`${sdkEscape(k)}=${sdkEscape(one)}`);
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
      into.push({
        request: { method: req.method, path: req.path, query: query.join('&'), headers },
        body: req.body,
      });
      throw new Error('captured');
    },
  };
}

function verifier(services: string[]) {
  return new SigV4Verifier({
    services,
    regions: ['us-east-1'],
    lookupSecret: async (id) =>
      id === credentials.accessKeyId
        ? { secretAccessKey: credentials.secretAccessKey, userName: 'ci' }
        : undefined,
  });
}

async function send(client: { send(c: unknown): Promise<unknown> }, command: unknown): Promise<void> {
  await client.send(command).catch((e: Error) => assert.equal(e.message, 'captured'));
}

describe('SigV4 verifier with the stock AWS SDK v3 clients', () => {
  it('accepts S3 requests as the SDK sends them by default', async () => {
    const captured: Captured[] = [];
    const s3 = new S3Client({
      region: 'us-east-1',
      credentials,
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      requestHandler: capturingHandler(captured),
    });
    const key = "data/ünïcode key+(1)!*'~.txt";
    await send(s3, new ListObjectsV2Command({ Bucket: 'ai-model-data', Prefix: 'a b/c+d', MaxKeys: 10 }));
    await send(s3, new GetObjectCommand({ Bucket: 'ai-model-data', Key: key, Range: 'bytes=0-9' }));
    await send(s3, new PutObjectCommand({ Bucket: 'ai-model-data', Key: key, Body: 'hello world' }));
    await send(
      s3,
      new PutObjectCommand({
        Bucket: 'ai-model-data',
        Key: 'streamed',
        Body: Readable.from([Buffer.from('streamed body')]),
        ContentLength: 13,
      }),
    );
    await send(
      s3,
      new CopyObjectCommand({
        Bucket: 'ai-model-data',
        Key: 'copy',
        CopySource: `ai-model-data/${encodeURIComponent(key)}`,
      }),
    );
    assert.equal(captured.length, 5);

    const v = verifier(['s3']);
    const modes: SigV4PayloadMode[] = [];
    for (const { request } of captured) {
      const result = await v.verify(request);
      assert.equal(result.service, 's3');
      assert.equal((result.principal as { userName?: string }).userName, 'ci');
      modes.push(result.payloadMode);
    }
    // The streamed upload goes out aws-chunked with a trailing checksum, the SDK's default.
    assert.deepEqual(modes, ['signed', 'signed', 'signed', 'streaming-unsigned-trailer', 'signed']);
    for (const { request } of captured) {
      const tampered = { ...request, path: request.path.replace('ai-model-data', 'ai-model-dat4') };
      await assert.rejects(v.verify(tampered), { code: 'SignatureDoesNotMatch' });
    }
  });

  it('accepts STS requests (form body, payload hash computed by the server)', async () => {
    const captured: Captured[] = [];
    const sts = new STSClient({
      region: 'us-east-1',
      credentials,
      endpoint: 'http://127.0.0.1:9000',
      requestHandler: capturingHandler(captured),
    });
    await send(sts, new GetCallerIdentityCommand({}));
    assert.equal(captured.length, 1);
    const { request, body } = captured[0] as Captured;
    const payload = typeof body === 'string' ? body : Buffer.from(body as Uint8Array).toString('utf8');
    assert.match(payload, /Action=GetCallerIdentity/);
    const v = verifier(['sts']);
    const result = await v.verify({ ...request, payloadHash: sha256Hex(payload) });
    assert.equal(result.service, 'sts');
    await assert.rejects(v.verify({ ...request, payloadHash: sha256Hex(`${payload}&x=1`) }), {
      code: 'SignatureDoesNotMatch',
    });
  });
});
