import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyNetworkError, classifyResponse, defaultRetryPolicy, nextRetryDelay, retryAfterFromBody } from '../src/domain/retryPolicy.js';

const now = Date.parse('2026-11-24T12:00:00Z');

describe('classifying provider answers', () => {
  it('treats 2xx as accepted and keeps the id with its angle brackets', () => {
    const outcome = classifyResponse(200, '{"id":"<1.2@x>","message":"Queued. Thank you."}', {}, now);
    assert.deepEqual(outcome, { kind: 'accepted', providerId: '<1.2@x>' });
  });

  it('treats 429 as throttling and reads the retry time from the Mailgun body', () => {
    const body = JSON.stringify({ message: 'Domain x is not allowed to send: request limit exceeded, try again after Tue, 24 Nov 2026 12:00:07 UTC' });
    const outcome = classifyResponse(429, body, { 'retry-after': '1' }, now);
    assert.equal(outcome.kind, 'transient');
    assert.ok(outcome.kind === 'transient' && outcome.throttled);
    assert.equal(outcome.kind === 'transient' ? outcome.retryAfterMs : null, 7000);
  });

  it('falls back to the Retry-After header in seconds or as a date', () => {
    const seconds = classifyResponse(429, '{"message":"slow down"}', { 'retry-after': '3' }, now);
    assert.equal(seconds.kind === 'transient' ? seconds.retryAfterMs : null, 3000);
    const date = classifyResponse(503, 'oops', { 'retry-after': 'Tue, 24 Nov 2026 12:00:02 GMT' }, now);
    assert.equal(date.kind === 'transient' ? date.retryAfterMs : null, 2000);
  });

  it('retries 5xx and network errors, fails other 4xx permanently with the API message', () => {
    assert.equal(classifyResponse(503, '', {}, now).kind, 'transient');
    assert.equal(classifyNetworkError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })).kind, 'transient');
    const permanent = classifyResponse(400, '{"message":"to parameter is not a valid address. please check documentation"}', {}, now);
    assert.deepEqual(permanent, { kind: 'permanent', code: 'http_400', message: 'to parameter is not a valid address. please check documentation' });
  });

  it('ignores a body without a retry date', () => {
    assert.equal(retryAfterFromBody('request limit exceeded', now), null);
  });
});

describe('retry delays', () => {
  it('grow exponentially with jitter and stop after the last attempt', () => {
    const p = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 10_000 };
    assert.equal(nextRetryDelay(p, 1, null, 0), 50);
    assert.equal(nextRetryDelay(p, 1, null, 1), 100);
    assert.equal(nextRetryDelay(p, 3, null, 1), 400);
    assert.equal(nextRetryDelay(p, 4, null, 0.5), null);
  });

  it('never retries sooner than the provider asked', () => {
    assert.equal(nextRetryDelay(defaultRetryPolicy, 1, 5000, 0), 5000);
  });

  it('caps the delay', () => {
    const p = { maxAttempts: 50, baseDelayMs: 1000, maxDelayMs: 2000 };
    assert.equal(nextRetryDelay(p, 30, null, 1), 2000);
  });
});
