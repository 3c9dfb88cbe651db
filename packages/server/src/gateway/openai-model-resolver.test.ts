import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { AiamError } from '@aiam/policy';
import { InputError, NotFoundError } from '../errors.js';
import { gatewayErrorStatus, writeGatewayError } from './gateway-errors.js';
import {
  classifyOpenAiRoute,
  readAndResolveOpenAiModel,
  resolveOpenAiModel,
} from './openai-model-resolver.js';

function resolve(method: string, url: string, body?: unknown, headers: IncomingHttpHeaders = {}) {
  const bytes =
    body === undefined
      ? undefined
      : Buffer.isBuffer(body)
        ? body
        : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const h: IncomingHttpHeaders = { ...headers };
  if (bytes && h['content-length'] === undefined) h['content-length'] = String(bytes.length);
  return resolveOpenAiModel({ method, url, headers: h, ...(bytes ? { body: bytes } : {}) });
}

function refusedWith(code: string, fn: () => unknown): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof AiamError, `expected an AiamError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return true;
  });
}

const chat = { model: 'cheap', messages: [{ role: 'user', content: 'hi' }] };

function multipart(
  boundary: string,
  parts: Array<{ name: string; value: string; filename?: string; extra?: string }>,
): Buffer {
  let out = '';
  for (const p of parts) {
    out += `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n`;
    if (p.extra) out += `${p.extra}\r\n`;
    out += `\r\n${p.value}\r\n`;
  }
  return Buffer.from(`${out}--${boundary}--\r\n`);
}
const MP = { 'content-type': 'multipart/form-data; boundary=XyZ' };

describe('OpenAI model resolver: the four LiteLLM bypasses', () => {
  it('litellm#41810: a ?model= query naming another model than the body is refused', () => {
    refusedWith('ERR_AMBIGUOUS_MODEL', () => resolve('POST', '/v1/chat/completions?model=expensive', chat));
    // Agreeing places are fine.
    assert.equal(resolve('POST', '/v1/chat/completions?model=cheap', chat).model, 'cheap');
  });

  it('litellm#9913: a model named only in the URL is the model resolved (and so the one authorized)', () => {
    const { messages } = chat;
    const r = resolve('POST', '/chat/completions?model=azure-gpt-4-omni-mini', { messages });
    assert.equal(r.model, 'azure-gpt-4-omni-mini');
    assert.deepEqual(
      r.mentions.map((m) => m.location),
      ['query:model'],
    );
  });

  it('litellm#41295: the Azure deployments path names the model; a different body model is refused', () => {
    const { messages } = chat;
    const path = '/openai/deployments/expensive/chat/completions?api-version=2024-10-21';
    assert.equal(resolve('POST', path, { messages }).model, 'expensive');
    refusedWith('ERR_AMBIGUOUS_MODEL', () => resolve('POST', path, chat));
    // A provider-prefixed pass-through form is not a route at all: refused, not relayed unchecked.
    refusedWith('ERR_UNKNOWN_ROUTE', () =>
      resolve('POST', '/azure/openai/deployments/expensive/chat/completions', { messages }),
    );
  });

  it('litellm#26399: a model in a provider path the gateway cannot read is never forwarded; engine paths must agree', () => {
    refusedWith('ERR_UNKNOWN_ROUTE', () =>
      resolve('POST', '/bedrock/model/anthropic.claude-opus-4-7/invoke', chat),
    );
    refusedWith('ERR_UNKNOWN_ROUTE', () =>
      resolve('POST', '/model/anthropic.claude-opus-4-7/converse', chat),
    );
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('POST', '/v1/engines/expensive/completions', { model: 'cheap', prompt: 'x' }),
    );
    assert.equal(resolve('POST', '/v1/engines/expensive/completions', { prompt: 'x' }).model, 'expensive');
  });
});

describe('OpenAI model resolver: every place a model can be named', () => {
  it('reads the JSON body model on every model route', () => {
    for (const route of [
      '/v1/chat/completions',
      '/v1/completions',
      '/v1/embeddings',
      '/v1/responses',
      '/openai/v1/chat/completions',
      '/invocations',
    ]) {
      assert.equal(resolve('POST', route, chat).model, 'cheap', route);
    }
  });

  it('reads model ids with slashes from /v1/models/{model}', () => {
    assert.equal(
      resolve('GET', '/v1/models/meta-llama/Llama-3.1-8B-Instruct').model,
      'meta-llama/Llama-3.1-8B-Instruct',
    );
    const list = resolve('GET', '/v1/models');
    assert.equal(list.model, undefined);
    assert.equal(list.route.requiresModel, false);
  });

  it('reads headers some proxies honour, and refuses when they disagree', () => {
    assert.equal(resolve('POST', '/v1/chat/completions', chat, { 'x-model': 'cheap' }).model, 'cheap');
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('POST', '/v1/chat/completions', chat, { 'x-model': 'expensive' }),
    );
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('GET', '/v1/models', undefined, { model: 'a', 'x-model-name': 'b' }),
    );
  });

  it('refuses repeated or case-variant query parameters that disagree', () => {
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('POST', '/v1/chat/completions?model=cheap&model=expensive', chat),
    );
    refusedWith('ERR_AMBIGUOUS_MODEL', () => resolve('POST', '/v1/chat/completions?MODEL=expensive', chat));
    refusedWith('ERR_AMBIGUOUS_MODEL', () => resolve('POST', '/v1/chat/completions?%6Dodel=expensive', chat));
  });

  it('reads model_id / modelId and nested body.model / extra_body.model, and array (batch) forms', () => {
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('POST', '/v1/chat/completions', { ...chat, model_id: 'expensive' }),
    );
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('POST', '/v1/chat/completions', { ...chat, extra_body: { model: 'expensive' } }),
    );
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('POST', '/v1/chat/completions', { ...chat, body: { model: 'expensive' } }),
    );
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('POST', '/v1/chat/completions', [chat, { ...chat, model: 'expensive' }]),
    );
    assert.equal(resolve('POST', '/v1/chat/completions', [chat, chat]).model, 'cheap');
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('POST', '/v1/chat/completions', { ...chat, Model: 'expensive' }),
    );
  });

  it('reads the multipart model field of audio transcriptions', () => {
    const body = multipart('XyZ', [
      { name: 'file', filename: 'a.wav', value: 'RIFF....WAVE' },
      { name: 'model', value: 'whisper-1' },
    ]);
    assert.equal(resolve('POST', '/v1/audio/transcriptions', body, MP).model, 'whisper-1');
    const two = multipart('XyZ', [
      { name: 'model', value: 'whisper-1' },
      { name: 'model', value: 'whisper-large' },
    ]);
    refusedWith('ERR_AMBIGUOUS_MODEL', () => resolve('POST', '/v1/audio/transcriptions', two, MP));
    const form = Buffer.from('model=whisper-1&language=en');
    assert.equal(
      resolve('POST', '/v1/audio/translations', form, { 'content-type': 'application/x-www-form-urlencoded' })
        .model,
      'whisper-1',
    );
    refusedWith('ERR_MODEL_REQUIRED', () =>
      resolve(
        'POST',
        '/v1/audio/transcriptions',
        multipart('XyZ', [{ name: 'file', filename: 'a.wav', value: 'x' }]),
        MP,
      ),
    );
    refusedWith('ERR_UNSUPPORTED_MEDIA_TYPE', () =>
      resolve(
        'POST',
        '/v1/audio/transcriptions',
        { model: 'whisper-1' },
        { 'content-type': 'application/json' },
      ),
    );
  });

  it('refuses multipart forms a lenient parser could read differently', () => {
    const star = Buffer.from(
      '--XyZ\r\nContent-Disposition: form-data; name="file"; name*=UTF-8\'\'model\r\n\r\nexpensive\r\n--XyZ--\r\n',
    );
    refusedWith('ERR_INVALID_MULTIPART', () => resolve('POST', '/v1/audio/transcriptions', star, MP));
    // A second part hidden behind a bare LF delimiter.
    const hidden = Buffer.from(
      '--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\n--XyZ\r\nContent-Disposition: form-data; name="model"\r\n\r\nexpensive\r\n--XyZ--\r\n',
    );
    refusedWith('ERR_INVALID_MULTIPART', () => resolve('POST', '/v1/audio/transcriptions', hidden, MP));
    const encoded = multipart('XyZ', [
      { name: 'model', value: 'ZXhwZW5zaXZl', extra: 'Content-Transfer-Encoding: base64' },
    ]);
    refusedWith('ERR_INVALID_MULTIPART', () => resolve('POST', '/v1/audio/transcriptions', encoded, MP));
    const preamble = Buffer.concat([
      Buffer.from('junk\r\n'),
      multipart('XyZ', [{ name: 'model', value: 'whisper-1' }]),
    ]);
    refusedWith('ERR_INVALID_MULTIPART', () => resolve('POST', '/v1/audio/transcriptions', preamble, MP));
    const asFile = multipart('XyZ', [{ name: 'model', value: 'whisper-1', filename: 'm.txt' }]);
    refusedWith('ERR_INVALID_MODEL_NAME', () => resolve('POST', '/v1/audio/transcriptions', asFile, MP));
    const caseVariant = multipart('XyZ', [
      { name: 'Model', value: 'expensive' },
      { name: 'model', value: 'whisper-1' },
    ]);
    refusedWith('ERR_AMBIGUOUS_MODEL', () => resolve('POST', '/v1/audio/transcriptions', caseVariant, MP));
  });

  it('reads every line of a purpose=batch file upload; batches creation names no model', () => {
    const line = (model: string, i: number) =>
      JSON.stringify({
        custom_id: `r${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { ...chat, model },
      });
    const upload = (lines: string[]) =>
      multipart('XyZ', [
        { name: 'purpose', value: 'batch' },
        { name: 'file', filename: 'batch.jsonl', value: lines.join('\n') },
      ]);
    assert.equal(
      resolve('POST', '/v1/files', upload([line('cheap', 1), line('cheap', 2)]), MP).model,
      'cheap',
    );
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('POST', '/v1/files', upload([line('cheap', 1), line('expensive', 2)]), MP),
    );
    refusedWith('ERR_MODEL_REQUIRED', () =>
      resolve(
        'POST',
        '/v1/files',
        upload([line('cheap', 1), JSON.stringify({ custom_id: 'x', body: {} })]),
        MP,
      ),
    );
    const batch = resolve('POST', '/v1/batches', {
      input_file_id: 'file-1',
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    assert.equal(batch.model, undefined);
    refusedWith('ERR_AMBIGUOUS_MODEL', () =>
      resolve('POST', '/v1/batches?model=expensive', { input_file_id: 'f', model: 'cheap' }),
    );
  });
});

describe('OpenAI model resolver: ambiguity and malformed input are refused, never guessed', () => {
  it('refuses duplicate JSON members, also when spelled with escapes', () => {
    refusedWith('ERR_DUPLICATE_JSON_KEY', () =>
      resolve('POST', '/v1/chat/completions', '{"model":"cheap","messages":[],"model":"expensive"}'),
    );
    refusedWith('ERR_DUPLICATE_JSON_KEY', () =>
      resolve('POST', '/v1/chat/completions', '{"model":"cheap","mod\\u0065l":"expensive"}'),
    );
    refusedWith('ERR_DUPLICATE_JSON_KEY', () =>
      resolve('POST', '/v1/chat/completions', '{"model":"cheap","body":{"model":"a","model":"b"}}'),
    );
    // The same name in different objects is not a duplicate.
    assert.equal(
      resolve(
        'POST',
        '/v1/chat/completions',
        '{"model":"cheap","messages":[{"role":"user","content":"x"},{"role":"user","content":"y"}]}',
      ).model,
      'cheap',
    );
  });

  it('refuses non-string models', () => {
    for (const model of [42, null, true, ['cheap'], { name: 'cheap' }]) {
      refusedWith('ERR_INVALID_MODEL_NAME', () =>
        resolve('POST', '/v1/chat/completions', { ...chat, model }),
      );
    }
  });

  it('refuses unicode-confusable and otherwise odd model names', () => {
    for (const model of [
      'gpt-4о' /* Cyrillic o */,
      'ｇｐｔ-4',
      'gpt-4\u200b',
      'gpt-4 ',
      ' gpt-4',
      'gpt-4\u0000',
      '',
      'a//b',
      '../gpt-4',
      'gpt-4\ud800',
    ]) {
      refusedWith('ERR_INVALID_MODEL_NAME', () =>
        resolve('POST', '/v1/chat/completions', { ...chat, model }),
      );
    }
    refusedWith('ERR_INVALID_MODEL_NAME', () => resolve('GET', '/v1/models/gpt-4%D0%BE'));
  });

  it('refuses bodies that are not strict UTF-8 JSON', () => {
    refusedWith('ERR_INVALID_JSON', () =>
      resolve(
        'POST',
        '/v1/chat/completions',
        Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from(JSON.stringify(chat))]),
      ),
    );
    refusedWith('ERR_INVALID_JSON', () =>
      resolve('POST', '/v1/chat/completions', Buffer.from(JSON.stringify(chat), 'utf16le')),
    );
    refusedWith('ERR_INVALID_JSON', () =>
      resolve('POST', '/v1/chat/completions', '{"model":"cheap","temperature":NaN}'),
    );
    refusedWith('ERR_INVALID_JSON', () =>
      resolve('POST', '/v1/chat/completions', Buffer.from([0x7b, 0xff, 0x7d])),
    );
    refusedWith('ERR_MODEL_REQUIRED', () => resolve('POST', '/v1/chat/completions', { messages: [] }));
    refusedWith('ERR_INVALID_BODY', () => resolve('POST', '/v1/chat/completions', '"cheap"'));
  });

  it('refuses compressed bodies and method overrides', () => {
    refusedWith('ERR_UNSUPPORTED_MEDIA_TYPE', () =>
      resolve('POST', '/v1/chat/completions', chat, { 'content-encoding': 'gzip' }),
    );
    refusedWith('ERR_INVALID_HEADER', () =>
      resolve('GET', '/v1/models', undefined, { 'x-http-method-override': 'POST' }),
    );
  });

  it('refuses non-canonical paths, and decodes percent-escapes like the upstream would', () => {
    for (const path of [
      '/v1/chat%2Fcompletions',
      '/v1/./chat/completions',
      '/v1/x/../chat/completions',
      '//v1/chat/completions',
      '/v1/chat/completions/',
      '/v1/chat\\completions',
      '/v1/chat/completions;x=1',
      '/v1/%2e%2e/chat/completions',
    ]) {
      assert.throws(() => resolve('POST', path, chat), InputError, path);
    }
    assert.equal(classifyOpenAiRoute('POST', '/v1/%63hat/completions').name, 'chat/completions');
  });

  it('refuses unknown routes and wrong methods (fail closed), and bodies on routes that take none', () => {
    for (const [method, path] of [
      ['GET', '/metrics'],
      ['POST', '/v1/models'],
      ['GET', '/v1/chat/completions'],
      ['POST', '/v1/assistants'],
      ['POST', '/v2/chat/completions'],
      ['POST', '/openai/deployments/x/unknown'],
    ] as const) {
      assert.throws(() => classifyOpenAiRoute(method, path), NotFoundError, `${method} ${path}`);
    }
    refusedWith('ERR_INVALID_BODY', () => resolve('GET', '/v1/models', chat));
  });
});

describe('readAndResolveOpenAiModel over HTTP', () => {
  async function serve(limit: number) {
    const seen: Array<{ model: string | undefined; body: Buffer | undefined }> = [];
    const server = http.createServer(async (req, res) => {
      try {
        const r = await readAndResolveOpenAiModel(req, req.url ?? '/', limit);
        seen.push({ model: r.model, body: r.body });
        res.end(r.model ?? '-');
      } catch (error) {
        res.shouldKeepAlive = false;
        writeGatewayError(res, error, 'rid');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { base, seen, close: () => new Promise((r) => server.close(r)) };
  }

  it('buffers the body, reads the model, and keeps the exact bytes to forward', async () => {
    const s = await serve(1024);
    const raw = '{ "model" : "cheap",\n "messages": [] }';
    const reply = await fetch(`${s.base}/v1/chat/completions`, { method: 'POST', body: raw });
    assert.equal(await reply.text(), 'cheap');
    assert.equal(s.seen[0]?.body?.toString(), raw);
    await s.close();
  });

  it('answers 413 beyond the limit, whether Content-Length says so or the stream shows it', async () => {
    const s = await serve(1024);
    const big = JSON.stringify({ ...chat, pad: 'x'.repeat(2000) });
    const declared = await fetch(`${s.base}/v1/chat/completions`, { method: 'POST', body: big });
    assert.equal(declared.status, 413);
    assert.equal(
      ((await declared.json()) as { error: { code: string } }).error.code,
      'ERR_PAYLOAD_TOO_LARGE',
    );
    const streamed = await fetch(`${s.base}/v1/chat/completions`, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(big));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    await s.close();
  });

  it('maps resolver errors to 400/404/415 statuses', () => {
    assert.equal(gatewayErrorStatus(new InputError('x', { code: 'ERR_AMBIGUOUS_MODEL' })), 400);
    assert.equal(gatewayErrorStatus(new NotFoundError('x', { code: 'ERR_UNKNOWN_ROUTE' })), 404);
  });
});
