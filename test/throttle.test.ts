import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ThrottleController } from '../src/domain/throttle.js';

describe('adaptive throttling', () => {
  it('ignores a stray 429 among many accepted answers', () => {
    const t = new ThrottleController();
    for (let i = 0; i < 1000; i++) t.record(i, i === 500 ? 'throttled' : 'accepted');
    assert.equal(t.rateCap(1000), null);
    assert.equal(t.pausedFor(1000), 0);
  });

  it('pauses and caps the rate below what got through when throttling is sustained', () => {
    const t = new ThrottleController();
    let started = false;
    // 1,000 answers a second; after half a second every tenth is throttled.
    for (let i = 0; i < 1000 && !started; i++) started = t.record(i, i >= 500 && i % 10 === 0 ? 'throttled' : 'accepted', 2000);
    assert.ok(started);
    const cap = t.rateCap(600);
    assert.ok(cap !== null && cap < 1000 && cap > 300, `cap ${cap}`);
    assert.ok(t.pausedFor(600) > 1000);
  });

  it('raises the cap again while no throttling is seen, then drops it', () => {
    const t = new ThrottleController();
    for (let i = 0; i < 100; i++) t.record(i * 10, i % 5 === 0 ? 'throttled' : 'accepted', 0);
    const first = t.rateCap(1000)!;
    assert.ok(first > 0);
    assert.ok(t.rateCap(5000)! > first);
    assert.equal(t.rateCap(10_000_000), null);
  });
});
