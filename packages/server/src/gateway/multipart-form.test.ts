import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { multipartBoundary, parseMultipartForm } from './multipart-form.js';

const CT = 'multipart/form-data; boundary=b0undary';
const invalid = (e: unknown) => e instanceof InputError && e.code === 'ERR_INVALID_MULTIPART';

describe('parseMultipartForm', () => {
  it('parses fields and files, keeping file bytes exact', () => {
    const file = Buffer.from([0x00, 0x0d, 0x0a, 0xff, 0x2d, 0x2d]);
    const body = Buffer.concat([
      Buffer.from('--b0undary\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'),
      Buffer.from(
        '--b0undary\r\ncontent-disposition: form-data; name=file; filename="a b.wav"\r\nContent-Type: audio/wav\r\n\r\n',
      ),
      file,
      Buffer.from('\r\n--b0undary--'),
    ]);
    const parts = parseMultipartForm(body, CT);
    assert.equal(parts.length, 2);
    assert.equal(parts[0]?.name, 'model');
    assert.equal(parts[0]?.data.toString(), 'whisper-1');
    assert.equal(parts[1]?.filename, 'a b.wav');
    assert.equal(parts[1]?.contentType, 'audio/wav');
    assert.ok(parts[1]?.data.equals(file));
  });

  it('reads quoted and token boundaries, and refuses bad ones', () => {
    assert.equal(multipartBoundary('multipart/form-data; boundary="a;b c"'), 'a;b c');
    assert.equal(multipartBoundary('Multipart/Form-Data; BOUNDARY=xyz'), 'xyz');
    for (const ct of [
      'multipart/form-data',
      'multipart/mixed; boundary=x',
      `multipart/form-data; boundary=${'x'.repeat(71)}`,
      'multipart/form-data; boundary=a; boundary=b',
    ]) {
      assert.throws(() => multipartBoundary(ct), invalid, ct);
    }
  });

  it('refuses every shape a lenient parser could read differently', () => {
    const cases: Record<string, string> = {
      'LF line ends': '--b0undary\nContent-Disposition: form-data; name="model"\n\nx\n--b0undary--',
      'no closing boundary': '--b0undary\r\nContent-Disposition: form-data; name="model"\r\n\r\nx',
      epilogue: '--b0undary\r\nContent-Disposition: form-data; name="model"\r\n\r\nx\r\n--b0undary--\r\nmore',
      'RFC 2231 name':
        "--b0undary\r\nContent-Disposition: form-data; name*=utf-8''model\r\n\r\nx\r\n--b0undary--",
      'escaped quote':
        '--b0undary\r\nContent-Disposition: form-data; name="mo\\"del"\r\n\r\nx\r\n--b0undary--',
      'no name': '--b0undary\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b0undary--',
      'not form-data': '--b0undary\r\nContent-Disposition: attachment; name="model"\r\n\r\nx\r\n--b0undary--',
      'two dispositions':
        '--b0undary\r\nContent-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="model"\r\n\r\nx\r\n--b0undary--',
      'folded header':
        '--b0undary\r\nContent-Disposition: form-data;\r\n name="model"\r\n\r\nx\r\n--b0undary--',
      'boundary inside data':
        '--b0undary\r\nContent-Disposition: form-data; name="a"\r\n\r\nx--b0undary\r\n--b0undary--',
      'duplicate parameter':
        '--b0undary\r\nContent-Disposition: form-data; name="a"; name="model"\r\n\r\nx\r\n--b0undary--',
    };
    for (const [what, body] of Object.entries(cases)) {
      assert.throws(() => parseMultipartForm(Buffer.from(body), CT), invalid, what);
    }
  });
});
