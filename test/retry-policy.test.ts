import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProviderHealth } from '../src/domain/providerHealth.js';
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

  it('retries 5xx, fails other 4xx permanently with the API message', () => {
    assert.equal(classifyResponse(503, '', {}, now).kind, 'transient');
    assert.equal(classifyResponse(500, '', {}, now).kind, 'transient');
    assert.equal(classifyResponse(502, '', {}, now).kind, 'transient');
    assert.equal(classifyResponse(408, '', {}, now).kind, 'transient');
    const permanent = classifyResponse(400, '{"message":"to parameter is not a valid address. please check documentation"}', {}, now);
    assert.deepEqual(permanent, { kind: 'permanent', code: 'http_400', message: 'to parameter is not a valid address. please check documentation' });
  });

  it('treats a gateway timeout as unknown: the provider behind it may have accepted the message', () => {
    assert.deepEqual(classifyResponse(504, '{"message":"Gateway Timeout"}', {}, now), { kind: 'unknown', code: 'http_504', message: 'Gateway Timeout' });
  });

  it('treats 401, 403 and 404 as refusals of the account or domain, not of the recipient', () => {
    for (const status of [401, 403, 404]) assert.equal(classifyResponse(status, '{"message":"Forbidden"}', {}, now).kind, 'account', `http ${status}`);
    assert.equal(classifyResponse(413, '{"message":"too big"}', {}, now).kind, 'permanent');
  });

  it('ignores a body without a retry date', () => {
    assert.equal(retryAfterFromBody('request limit exceeded', now), null);
  });
});

describe('classifying failures without an answer', () => {
  const error = (code: string) => Object.assign(new Error(code), { code });
  // Every error undici or the socket can report, by whether the request had been written.
  const neverSent = [
    'ECONNREFUSED',
    'ENOTFOUND',
    'EAI_AGAIN',
    'ENETUNREACH',
    'EHOSTUNREACH',
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_INVALID_ARG',
    'CERT_HAS_EXPIRED',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'ERR_TLS_CERT_ALTNAME_INVALID',
  ];
  const ambiguous = [
    'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_BODY_TIMEOUT',
    'UND_ERR_SOCKET',
    'UND_ERR_CLOSED',
    'UND_ERR_ABORTED',
    'UND_ERR_DESTROYED',
    'UND_ERR_RESPONSE_STATUS_CODE',
    'ECONNRESET',
    'EPIPE',
    'ETIMEDOUT',
    'ECONNABORTED',
  ];

  for (const code of neverSent) {
    it(`${code}: nothing reached the provider, whenever it is reported: retried`, () => {
      for (const written of [false, true]) {
        const outcome = classifyNetworkError(error(code), written);
        assert.equal(outcome.kind, 'transient', `${code}, written=${written}`);
        assert.equal(outcome.code, code.toLowerCase());
      }
    });
  }

  for (const code of ambiguous) {
    it(`${code}: retried before the request was written, unknown after`, () => {
      assert.equal(classifyNetworkError(error(code), false).kind, 'transient');
      const after = classifyNetworkError(error(code), true);
      assert.deepEqual(after, { kind: 'unknown', code: code.toLowerCase(), message: code });
    });
  }

  it('an error without a code is unknown once the request was written', () => {
    assert.equal(classifyNetworkError(new Error('socket hang up'), true).kind, 'unknown');
    assert.equal(classifyNetworkError('weird', false).kind, 'transient');
  });
});

describe('provider outages', () => {
  it('open after many different messages fail in a row, not after one message failing many times', () => {
    const health = new ProviderHealth({ openAfterMessages: 3, firstProbeMs: 100, maxProbeMs: 400 });
    for (let i = 0; i < 10; i++) assert.equal(health.record(i, 7, 'failed', 'http_503'), null);
    // Retries of messages that failed before never open it, however many.
    for (let i = 0; i < 10; i++) assert.equal(health.record(i, 100 + i, 'failed', 'http_503', false, false), null);
    assert.equal(health.countsAgainstBudget(), true);
    assert.equal(health.record(20, 8, 'failed', 'http_503'), null);
    assert.equal(health.record(21, 9, 'failed', 'http_503: down'), 'opened');
    assert.equal(health.countsAgainstBudget(), false);
    assert.deepEqual(health.current(), { since: 21, lastError: 'http_503: down', nextProbeAt: 121 });
  });

  it('an accepted or refused answer between failures means the provider works', () => {
    const health = new ProviderHealth({ openAfterMessages: 3, firstProbeMs: 100, maxProbeMs: 400 });
    health.record(0, 1, 'failed', 'x');
    health.record(1, 2, 'failed', 'x');
    health.record(2, 3, 'answered', '');
    health.record(3, 4, 'failed', 'x');
    assert.equal(health.record(4, 5, 'failed', 'x'), null);
    assert.equal(health.current(), null);
  });

  it('hold everyone during an outage but one probe at a time, backing off, and end at the first good answer', () => {
    const health = new ProviderHealth({ openAfterMessages: 2, firstProbeMs: 100, maxProbeMs: 300 });
    assert.deepEqual(health.admit(0), { kind: 'go' });
    health.record(0, 1, 'failed', 'x');
    health.record(0, 2, 'failed', 'x');
    assert.deepEqual(health.admit(50), { kind: 'wait', ms: 50 });
    assert.deepEqual(health.admit(100), { kind: 'probe' });
    assert.equal(health.admit(100).kind, 'wait', 'one probe at a time');
    health.record(110, 3, 'failed', 'x', true);
    assert.deepEqual(health.admit(150), { kind: 'wait', ms: 160 }, 'the next probe waits twice as long');
    assert.deepEqual(health.admit(310), { kind: 'probe' });
    health.cancelProbe();
    assert.deepEqual(health.admit(311), { kind: 'probe' }, 'a probe not sent is handed back');
    health.record(320, 3, 'failed', 'x', true);
    assert.deepEqual(health.admit(321), { kind: 'wait', ms: 299 }, 'capped at maxProbeMs');
    // A late answer to a request started before the outage, accepted: the provider is back.
    assert.equal(health.record(400, 9, 'accepted', ''), 'closed');
    assert.deepEqual(health.admit(401), { kind: 'go' });
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
