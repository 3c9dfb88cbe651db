import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { parseAssumeRole, parseAssumeRoleWithWebIdentity, stsAction, stsParameters } from './sts-query.js';
import { stsErrorXml } from './sts-xml.js';

const form = 'application/x-www-form-urlencoded; charset=utf-8';
const params = (body: string) => stsParameters('', Buffer.from(body), form);
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof InputError, String(e));
    return e.code;
  }
  assert.fail('expected an InputError');
};

describe('STS query parsing', () => {
  it('reads every AssumeRole parameter in the Query protocol form', () => {
    const p = params(
      'Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr&RoleSessionName=s1' +
        '&DurationSeconds=1200&Policy=%7B%7D&PolicyArns.member.1.arn=arn%3Aa&PolicyArns.member.2.arn=arn%3Ab' +
        '&Tags.member.1.Key=team&Tags.member.1.Value=ml&Tags.member.2.Key=env&Tags.member.2.Value=' +
        '&TransitiveTagKeys.member.1=team&SourceIdentity=alice&ExternalId=ext-123',
    );
    assert.equal(stsAction(p), 'AssumeRole');
    assert.deepEqual(parseAssumeRole(p), {
      roleArn: 'arn:aws:iam::111122223333:role/r',
      roleSessionName: 's1',
      durationSeconds: 1200,
      policy: '{}',
      policyArns: ['arn:a', 'arn:b'],
      tags: { team: 'ml', env: '' },
      transitiveTagKeys: ['team'],
      sourceIdentity: 'alice',
      externalId: 'ext-123',
    });
  });

  it('takes GET query parameters, without the SigV4 presign ones', () => {
    const p = stsParameters(
      'Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Signature=ab',
      Buffer.alloc(0),
      undefined,
    );
    assert.equal(stsAction(p), 'GetCallerIdentity');
    assert.equal(p.has('X-Amz-Signature'), false);
  });

  it('refuses bad input with the STS error codes', () => {
    assert.equal(
      code(() => stsParameters('', Buffer.from('{}'), 'application/json')),
      'InvalidParameterValue',
    );
    assert.equal(
      code(() => stsParameters('Action=A', Buffer.from('Action=B'), form)),
      'InvalidParameterValue',
    );
    assert.equal(
      code(() => stsAction(params('Version=2011-06-15'))),
      'MissingAction',
    );
    assert.equal(
      code(() => stsAction(params('Action=GetSessionToken'))),
      'InvalidAction',
    );
    assert.equal(
      code(() => stsAction(params('Action=AssumeRole&Version=2099-01-01'))),
      'InvalidAction',
    );
    assert.equal(
      code(() => parseAssumeRole(params('RoleSessionName=s1'))),
      'MissingParameter',
    );
    const arn = 'RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fr';
    assert.equal(
      code(() => parseAssumeRole(params(`${arn}&RoleSessionName=x`))),
      'ValidationError',
    );
    assert.equal(
      code(() => parseAssumeRole(params(`${arn}&RoleSessionName=ok&DurationSeconds=1e3`))),
      'ValidationError',
    );
    assert.equal(
      code(() => parseAssumeRole(params(`${arn}&RoleSessionName=ok&PolicyArns.member.2.arn=arn%3Ab`))),
      'InvalidParameterValue',
    );
    assert.equal(
      code(() => parseAssumeRole(params(`${arn}&RoleSessionName=ok&Tags.member.1.Key=a`))),
      'InvalidParameterValue',
    );
    assert.equal(
      code(() =>
        parseAssumeRole(
          params(
            `${arn}&RoleSessionName=ok&Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=a&Tags.member.2.Value=2`,
          ),
        ),
      ),
      'ValidationError',
    );
    assert.equal(
      code(() => parseAssumeRole(params(`${arn}&RoleSessionName=ok&Tags.1.Key=a`))),
      'InvalidParameterValue',
    );
    assert.equal(
      code(() => parseAssumeRoleWithWebIdentity(params(`${arn}&RoleSessionName=ok`))),
      'MissingParameter',
    );
  });

  it('escapes messages in the error XML', () => {
    const xml = stsErrorXml(
      { status: 400, type: 'Sender', code: 'ValidationError', message: 'a<b>&"c"' },
      'r-1',
    );
    assert.match(xml, /<Message>a&lt;b&gt;&amp;&quot;c&quot;<\/Message>/);
  });
});
