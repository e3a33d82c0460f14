import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDeliveryId, parseDeliveryId } from '../src/domain/deliveryId.js';
import { DeliveryCounts } from '../tools/mock-mailgun/deliveryCounts.js';

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

describe('delivery ids', () => {
  it('parse back only in the form Herald writes them', () => {
    assert.deepEqual(parseDeliveryId(formatDeliveryId(7, 0)), { campaignId: 7, recipientId: 0 });
    assert.deepEqual(parseDeliveryId('12.345'), { campaignId: 12, recipientId: 345 });
    for (const other of ['07.1', '7.01', '7.', '.1', '7.1.2', '7.x', ' 7.1']) assert.equal(parseDeliveryId(other), null, other);
  });
});
