import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planUnknown } from '../src/domain/reconcile.js';
import { canTransition } from '../src/domain/campaignState.js';

describe('resolving deliveries of unknown outcome', () => {
  const accepted = new Map([[2, '<b@x>']]);
  it('reconcile marks what the provider accepted as sent and re-sends the rest', () => {
    const plan = planUnknown('reconcile', [1, 2, 3], accepted);
    assert.deepEqual([...plan.sent], [[2, '<b@x>']]);
    assert.deepEqual(plan.resend, [1, 3]);
    assert.deepEqual(plan.skip, []);
  });
  it('resend sends all again; skip never sends them', () => {
    assert.deepEqual(planUnknown('resend', [1, 2], accepted).resend, [1, 2]);
    assert.deepEqual(planUnknown('skip', [1, 2], accepted).skip, [1, 2]);
  });
});

describe('campaign state machine', () => {
  it('allows pause only while running or scheduled, resume only while paused', () => {
    assert.ok(canTransition('pause', 'running'));
    assert.ok(!canTransition('pause', 'finished'));
    assert.ok(canTransition('resume', 'paused'));
    assert.ok(!canTransition('resume', 'running'));
    assert.ok(!canTransition('start', 'cancelled'));
  });
});
