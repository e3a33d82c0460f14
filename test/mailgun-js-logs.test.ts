import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Mailgun from 'mailgun.js';
import { MailgunClient } from '../src/provider/mailgun/client.js';
import { MultipartWriter } from '../src/provider/mailgun/multipart.js';
import { parseMailgunEvent } from '../src/provider/mailgun/parseEvent.js';
import { MOCK_DOMAIN, MOCK_KEY, startMockProcess, type MockProcess } from './support/processes.js';

describe("the official SDK's logs.list against the mock", () => {
  let mock: MockProcess;
  before(async () => {
    mock = await startMockProcess(['--record', 'counts', '--open-rate', '1']);
    const client = new MailgunClient({ baseUrl: mock.url, apiKey: MOCK_KEY, domain: MOCK_DOMAIN, connections: 4, timeoutMs: 5000 });
    const writer = new MultipartWriter([
      ['from', `Shop <news@${MOCK_DOMAIN}>`],
      ['subject', 'Hi'],
      ['text', 'Hello'],
      ['v:herald-campaign', '8'],
    ]);
    try {
      for (let i = 0; i < 40; i++) {
        const fields = [
          ['to', `sdk${i}@example.com`],
          ['v:herald-delivery', `8.${i}`],
        ] as const;
        const body = Buffer.alloc(writer.maxBytes(fields));
        const outcome = await client.send(body.subarray(0, writer.writeInto(body, 0, fields)), writer.contentType);
        assert.equal(outcome.kind, 'accepted');
      }
    } finally {
      await client.close();
    }
  });
  after(async () => {
    await mock?.stop();
  });

  it('answers mg.logs.list with the shape the SDK parses, and pages with its token', async () => {
    const mg = new Mailgun(FormData).client({ username: 'api', key: MOCK_KEY, url: mock.url });
    const query = {
      start: new Date(Date.now() - 60_000),
      end: new Date(Date.now() + 60_000),
      events: ['accepted', 'opened'],
      filter: { AND: [{ attribute: 'domain', comparator: '=', values: [{ label: MOCK_DOMAIN, value: MOCK_DOMAIN }] }] },
    };
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await mg.logs.list({ ...query, pagination: { sort: 'timestamp:asc', limit: 30, ...(token ? { token } : {}) } });
      pages++;
      assert.equal(page.status, 200);
      assert.ok(page.start instanceof Date && !Number.isNaN(page.start.getTime()), 'start parsed as a date');
      assert.ok(page.end instanceof Date && page.end.getTime() >= page.start.getTime());
      assert.ok(page.items.length <= 30);
      for (const item of page.items) {
        assert.ok(item['@timestamp'] instanceof Date && !Number.isNaN(item['@timestamp'].getTime()), 'the SDK turns @timestamp into a Date');
        assert.deepEqual(item.domain, { name: MOCK_DOMAIN });
        assert.equal(typeof item['user-variables'], 'string');
        assert.equal(JSON.parse(item['user-variables']!)['herald-campaign'], '8');
        assert.ok(['accepted', 'opened'].includes(item.event));
        assert.match(item.message!.headers!['message-id'], /@mg\.example\.test$/);
        // Herald's parser reads the same item as it came over the wire.
        const parsed = parseMailgunEvent({ ...item, '@timestamp': item['@timestamp'].toISOString() }, 'logs');
        assert.ok(!('error' in parsed), JSON.stringify(parsed));
        seen.push(item.id);
      }
      token = page.pagination.next;
    } while (token);
    assert.equal(pages, 3, '80 events in pages of 30');
    assert.equal(seen.length, 80);
    assert.equal(new Set(seen).size, 80);
  });

  it('throws the SDK error for a refused query', async () => {
    const mg = new Mailgun(FormData).client({ username: 'api', key: MOCK_KEY, url: mock.url });
    await assert.rejects(
      mg.logs.list({ start: new Date(Date.now() - 60_000), pagination: { limit: 500 } }),
      (err: { status?: number; details?: string }) => err.status === 400 && /limit/.test(String(err.details)),
    );
    const wrong = new Mailgun(FormData).client({ username: 'api', key: 'key-wrong', url: mock.url });
    await assert.rejects(wrong.logs.list({ start: new Date(Date.now() - 60_000) }), (err: { status?: number }) => err.status === 401);
  });
});
