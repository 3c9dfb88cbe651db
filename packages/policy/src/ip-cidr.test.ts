import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cidrContains, parseCidr, parseIpAddress } from './ip-cidr.js';

function inBlock(block: string, ip: string): boolean {
  const b = parseCidr(block);
  const a = parseIpAddress(ip);
  assert.ok(b && a, `${block} ${ip}`);
  return cidrContains(b, a);
}

// RFC 4632 (IPv4 CIDR), RFC 4291 section 2.2 (IPv6 text forms)
describe('ip-cidr', () => {
  it('parses IPv4 and IPv6 forms', () => {
    for (const ok of [
      '0.0.0.0',
      '255.255.255.255',
      '::',
      '::1',
      '2001:db8::',
      '2001:DB8:0:0:0:0:0:1',
      '::ffff:192.0.2.1',
      'fe80::1:2',
    ]) {
      assert.ok(parseIpAddress(ok), ok);
    }
    for (const bad of [
      '256.0.0.1',
      '1.2.3',
      '01.2.3.4',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '12345::',
      'abc',
      '',
      ':::',
    ]) {
      assert.equal(parseIpAddress(bad), undefined, bad);
    }
  });
  it('parses CIDR blocks and refuses bad lengths', () => {
    assert.equal(parseCidr('10.0.0.0/8')?.prefixLength, 8);
    assert.equal(parseCidr('10.0.0.1')?.prefixLength, 32);
    assert.equal(parseCidr('::/0')?.prefixLength, 0);
    assert.equal(parseCidr('10.0.0.0/33'), undefined);
    assert.equal(parseCidr('::/129'), undefined);
    assert.equal(parseCidr('10.0.0.0/'), undefined);
  });
  it('tests containment', () => {
    assert.equal(inBlock('10.0.0.0/8', '10.255.1.2'), true);
    assert.equal(inBlock('10.0.0.0/8', '11.0.0.0'), false);
    assert.equal(inBlock('0.0.0.0/0', '192.0.2.1'), true);
    assert.equal(inBlock('192.0.2.7', '192.0.2.7'), true);
    assert.equal(inBlock('192.0.2.7/32', '192.0.2.8'), false);
    assert.equal(inBlock('2001:db8::/32', '2001:db8:ffff::1'), true);
    assert.equal(inBlock('2001:db8::/32', '2001:db9::1'), false);
    assert.equal(inBlock('2001:db8::/63', '2001:db8:0:1::1'), true);
    assert.equal(inBlock('2001:db8::/64', '2001:db8:0:1::1'), false);
    assert.equal(inBlock('::/0', '::1'), true);
    assert.equal(inBlock('::ffff:0:0/96', '::ffff:192.0.2.1'), true);
    assert.equal(inBlock('0.0.0.0/0', '::1'), false);
  });
});
