import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeEmail } from '../src/domain/email.js';

describe('email normalisation', () => {
  it('trims and lowercases the domain but keeps the local part', () => {
    assert.deepEqual(normalizeEmail('  Jane.Doe+news@Example.COM '), { ok: true, email: 'Jane.Doe+news@example.com' });
  });
  it('rejects missing and malformed addresses with a reason', () => {
    for (const [raw, reason] of [
      ['', /missing/],
      ['plainaddress', /needs a local part/],
      ['a@b@example.com', /more than one @/],
      ['a b@example.com', /not allowed/],
      ['.a@example.com', /not allowed/],
      ['a@localhost', /not a valid domain/],
      ['a@exa_mple.com', /not a valid domain/],
      ['a@example.123', /not a valid domain/],
    ] as const) {
      const r = normalizeEmail(raw);
      assert.equal(r.ok, false, raw);
      if (!r.ok) assert.match(r.reason, reason, raw);
    }
  });
});
