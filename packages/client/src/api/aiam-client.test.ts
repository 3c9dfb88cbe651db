import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { AiamClient } from './aiam-client.js';
import { AiamApiError, AiamResponseError } from './api-errors.js';
import { OPERATIONS } from './api-operations.js';
import { CredentialsError, resolveCredentials } from './credentials.js';
import { ML_OPERATIONS } from './ml-client.js';
import { SCIM_TOKEN_OPERATIONS } from './scim-token-client.js';
import { signRequest } from './sigv4-signer.js';

const openapi = JSON.parse(readFileSync(new URL('./openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, { operationId: string }>>;
};
const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

type Bytes = string | ArrayBuffer | ArrayBufferView;
const toBuffer = (d: Bytes): Buffer =>
  typeof d === 'string'
    ? Buffer.from(d, 'utf8')
    : ArrayBuffer.isView(d)
      ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
      : Buffer.from(d);
class NodeSha256 {
  #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: Bytes) {
    this.#h = secret ? createHmac('sha256', toBuffer(secret)) : createHash('sha256');
  }
  update(data: Bytes): void {
    this.#h.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
  reset(): void {}
}

describe('AiamClient', () => {
  it('has every operation in openapi.json with the same method and path, and covers the document', () => {
    const inDoc = new Map<string, string>();
    for (const [path, ops] of Object.entries(openapi.paths))
      for (const [method, op] of Object.entries(ops))
        inDoc.set(op.operationId, `${method.toUpperCase()} ${path}`);
    // AiamClient, MlClient and ScimTokenClient together cover the document, each operation once.
    const clients: Record<string, { method: string; path: string }>[] = [
      OPERATIONS,
      ML_OPERATIONS,
      SCIM_TOKEN_OPERATIONS,
    ];
    const all = new Map<string, { method: string; path: string }>();
    for (const ops of clients) {
      for (const [id, op] of Object.entries(ops)) {
        assert.ok(!all.has(id), `operation ${id} is in two clients`);
        all.set(id, op);
      }
    }
    for (const [id, op] of all) {
      assert.equal(inDoc.get(id), `${op.method} ${op.path}`, `client operation ${id}`);
    }
    const missing = [...inDoc.keys()].filter((id) => !all.has(id));
    assert.deepEqual(missing, [], 'operations of the document the client lacks');
  });

  it('signs exactly as the AWS SDK signer does (double-encoded path, sorted query, session token)', async () => {
    const url = new URL('http://127.0.0.1:7477/api/v1/identities/workspace%2Fws%2Fendpoint%2Fe?b=2&a=x%20y');
    const now = Date.UTC(2026, 0, 31, 12, 0, 0);
    const body = '{"a":1}';
    const creds = { ...CREDS, sessionToken: 'token/with+chars' };
    const ours = signRequest({
      method: 'PATCH',
      url,
      headers: { 'content-type': 'application/json' },
      body,
      credentials: creds,
      region: 'us-east-1',
      service: 'aiam',
      now,
    });
    const sdk = await new SignatureV4({
      credentials: creds,
      region: 'us-east-1',
      service: 'aiam',
      sha256: NodeSha256,
    }).sign(
      {
        method: 'PATCH',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 7477,
        path: '/api/v1/identities/workspace%2Fws%2Fendpoint%2Fe',
        query: { b: '2', a: 'x y' },
        headers: {
          host: '127.0.0.1:7477',
          'content-type': 'application/json',
          'x-amz-content-sha256': createHash('sha256').update(body).digest('hex'),
        },
        body,
      },
      { signingDate: new Date(now) },
    );
    assert.equal(ours.authorization, sdk.headers.authorization);
    assert.equal(ours['x-amz-security-token'], 'token/with+chars');
  });

  it('resolves credentials as AWS tools do: environment, then the shared file and profile', async () => {
    assert.deepEqual(
      await resolveCredentials({
        env: { AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S', AWS_SESSION_TOKEN: 'T' },
      }),
      {
        accessKeyId: 'A',
        secretAccessKey: 'S',
        sessionToken: 'T',
      },
    );
    await assert.rejects(resolveCredentials({ env: { AWS_ACCESS_KEY_ID: 'A' } }), CredentialsError);
    const file =
      '[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n[ci]\naws_access_key_id=C\naws_secret_access_key=CS\n';
    const files: Record<string, string> = { '/creds': file };
    const readTextFile = async (p: string) => files[p];
    assert.equal(
      (await resolveCredentials({ env: { AWS_SHARED_CREDENTIALS_FILE: '/creds' }, readTextFile }))
        .accessKeyId,
      'D',
    );
    assert.equal(
      (
        await resolveCredentials({
          env: { AWS_SHARED_CREDENTIALS_FILE: '/creds', AWS_PROFILE: 'ci' },
          readTextFile,
        })
      ).secretAccessKey,
      'CS',
    );
    assert.equal(
      (
        await resolveCredentials({
          env: { HOME: '/home/u' },
          readTextFile: async (p) => (p === '/home/u/.aws/credentials' ? file : undefined),
        })
      ).accessKeyId,
      'D',
    );
    await assert.rejects(
      resolveCredentials({
        env: { AWS_SHARED_CREDENTIALS_FILE: '/creds', AWS_PROFILE: 'nope' },
        readTextFile,
      }),
      /profile "nope"/,
    );
    await assert.rejects(
      resolveCredentials({ env: { AWS_SHARED_CREDENTIALS_FILE: '/none' }, readTextFile }),
      CredentialsError,
    );
  });

  it('sends signed requests through the injected fetch, with If-Match, and types the errors', async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const answers: Response[] = [
      new Response(
        JSON.stringify({ error: { code: 'ERR_PRECONDITION_FAILED', message: 'stale', requestId: 'r-1' } }),
        { status: 412 },
      ),
      new Response(
        JSON.stringify({
          error: { code: 'ERR_ACCESS_DENIED', message: 'no', requestId: 'r-2', decisionId: 'd-2' },
        }),
        { status: 403 },
      ),
      new Response(JSON.stringify({ items: [{ nope: true }] }), { status: 200 }),
      new Response(null, { status: 204 }),
    ];
    const client = new AiamClient({
      endpoint: 'http://aiam.test:7477/',
      credentials: CREDS,
      fetch: (async (url: URL, init: RequestInit) => {
        seen.push({ url: String(url), init });
        return answers.shift()!;
      }) as unknown as typeof fetch,
    });
    const stale = await client.updateGroup('ml', { path: '/x/' }, { ifMatch: 3 }).catch((e) => e);
    assert.ok(stale instanceof AiamApiError);
    assert.equal(stale.code, 'ERR_PRECONDITION_FAILED');
    assert.equal(stale.status, 412);
    assert.equal(stale.requestId, 'r-1');
    const h = seen[0]!.init.headers as Record<string, string>;
    assert.equal(h['if-match'], 'W/"3"');
    assert.match(
      h.authorization!,
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/aiam\/aws4_request/,
    );
    assert.equal(seen[0]!.url, 'http://aiam.test:7477/api/v1/groups/ml');
    const denied = await client.getUser('bob').catch((e) => e);
    assert.equal(denied.decisionId, 'd-2');
    await assert.rejects(client.listUsers(), AiamResponseError, 'a malformed answer is refused');
    assert.equal(await client.addUserToGroup('g', 'a b'), undefined);
    assert.equal(seen[3]!.url, 'http://aiam.test:7477/api/v1/groups/g/members/a%20b');
  });
});
