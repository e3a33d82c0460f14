import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedQueue } from '../src/sender/queue.js';
import { BodyBatch } from '../src/sender/render/bodyBatch.js';
import { SendBacklog, type OutgoingMessage } from '../src/sender/send/backlog.js';

const message = (recipientId: number): OutgoingMessage => ({
  campaignId: 1,
  recipientId,
  body: new Uint8Array(0),
  contentType: 'x',
  attempts: 0,
  failures: 0,
  batch: null,
});

describe('bounded queue', () => {
  it('makes producers wait while full and hands items over in order', async () => {
    const q = new BoundedQueue<number>(2);
    await q.put(1);
    await q.put(2);
    let thirdIn = false;
    const third = q.put(3).then(() => (thirdIn = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(thirdIn, false);
    assert.equal(await q.take(), 1);
    await third;
    assert.equal(await q.take(), 2);
    assert.equal(await q.take(), 3);
  });

  it('lets takers drain after close, then ends', async () => {
    const q = new BoundedQueue<number>(5);
    await q.put(7);
    q.close();
    assert.equal(await q.take(), 7);
    assert.equal(await q.take(), undefined);
  });
});

describe('send backlog', () => {
  it('serves retries first and ends only after the last retry is taken', async () => {
    const b = new SendBacklog(10);
    await b.put(message(1));
    b.retryLater(message(2), 20);
    b.close();
    assert.equal((await b.take())?.recipientId, 1);
    assert.equal((await b.take())?.recipientId, 2);
    assert.equal(await b.take(), undefined);
  });

  it('counts waiting retries against its capacity so memory stays bounded', async () => {
    const b = new SendBacklog(2);
    b.retryLater(message(1), 30);
    b.retryLater(message(2), 30);
    let admitted = false;
    const put = b.put(message(3)).then(() => (admitted = true));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(admitted, false);
    await b.take();
    await put;
    assert.equal(admitted, true);
  });

  it('drops unsent messages on stop and wakes waiting senders', async () => {
    const b = new SendBacklog(10);
    const waiting = b.take();
    assert.equal(b.stop(), 0);
    assert.equal(await waiting, undefined);
    assert.equal(await b.put(message(1)), false);
  });
});

describe('render batch buffers', () => {
  it('go back for reuse once every message of the batch has an outcome, and not before', () => {
    const recycled: ArrayBuffer[] = [];
    const buffer = new ArrayBuffer(8);
    const batch = new BodyBatch(buffer, 3, (b) => recycled.push(b));
    batch.done();
    batch.done();
    assert.equal(recycled.length, 0, 'not while a message still reads its view');
    batch.done();
    assert.deepEqual(recycled, [buffer]);
  });
});
