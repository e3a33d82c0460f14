import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { signUnsubscribeToken, verifyUnsubscribeToken } from '../src/domain/unsubscribeToken.js';

describe('unsubscribe tokens', () => {
  const claim = { campaignId: 12, recipientId: 345, email: 'ann@example.org' };
  it('round-trips a claim', () => {
    assert.deepEqual(verifyUnsubscribeToken(signUnsubscribeToken(claim, 'k1'), 'k1'), claim);
  });
  it('rejects a tampered payload, a tampered signature and a foreign secret', () => {
    const token = signUnsubscribeToken(claim, 'k1');
    const [payload, mac] = token.split('.') as [string, string];
    const other = signUnsubscribeToken({ ...claim, recipientId: 346 }, 'k1').split('.')[0]!;
    assert.equal(verifyUnsubscribeToken(`${other}.${mac}`, 'k1'), null);
    assert.equal(verifyUnsubscribeToken(`${payload}.${mac.slice(0, -2)}AA`, 'k1'), null);
    assert.equal(verifyUnsubscribeToken(token, 'k2'), null);
    assert.equal(verifyUnsubscribeToken('garbage', 'k1'), null);
  });
});
