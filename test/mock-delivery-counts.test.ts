import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryCounts } from '../src/mock/deliveryCounts.js';

describe("the mock's delivery counts", () => {
  it('counts each delivery id, reports the ones accepted twice, and lists them all', () => {
    const counts = new DeliveryCounts();
    for (const id of ['7.1', '7.2', '7.2', '8.5000000', '7.test', '7.test', 'x', '7.01', '07.1', '9.99999999']) counts.add(id);
    assert.equal(counts.duplicates(), 2);
    assert.deepEqual(counts.toJSON(), { '7.1': 1, '7.2': 2, '8.5000000': 1, '7.test': 2, x: 1, '7.01': 1, '07.1': 1, '9.99999999': 1 });
    counts.clear();
    assert.equal(counts.duplicates(), 0);
    assert.deepEqual(counts.toJSON(), {});
  });
});
