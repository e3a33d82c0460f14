import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMailgunEvent } from '../src/provider/mailgun/parseEvent.js';
import type { ProviderEvent } from '../src/provider/provider.js';

/** An Events API item as the fact sheet (§4) shows one. */
const eventsItem = {
  event: 'failed',
  id: 'pl271FzxTTmGRW8Uj3dUWw',
  timestamp: 1529701969.818328,
  severity: 'permanent',
  reason: 'suppress-bounce',
  recipient: 'joan@example.com',
  'recipient-domain': 'example.com',
  message: { headers: { 'message-id': '20180622211249.1.2A6@example.org', to: 'joan@example.com', from: 'a@example.org', subject: 'Hi' }, size: 867 },
  'delivery-status': { code: 605, message: '', description: 'Not delivering to previously bounced address', 'attempt-no': 1 },
  'user-variables': { 'herald-campaign': '7', 'herald-delivery': '7.42' },
  tags: [],
  flags: { 'is-test-mode': false },
  storage: { url: 'https://storage', key: 'k' },
};

/** The same event as a Logs API item (§4b): ISO `@timestamp`, JSON-string user variables, domain object. */
const logsItem = {
  ...Object.fromEntries(Object.entries(eventsItem).filter(([k]) => k !== 'timestamp')),
  '@timestamp': '2018-06-22T21:12:49.818Z',
  domain: { name: 'mg.example.org' },
  'user-variables': '{"herald-campaign":"7","herald-delivery":"7.42"}',
  'recipient-provider': 'Example',
};

const expected: ProviderEvent = {
  id: 'pl271FzxTTmGRW8Uj3dUWw',
  type: 'failed',
  at: new Date('2018-06-22T21:12:49.818Z'),
  recipient: 'joan@example.com',
  messageId: '20180622211249.1.2A6@example.org',
  deliveryId: '7.42',
  campaignId: 7,
  domain: undefined,
  severity: 'permanent',
  reason: 'suppress-bounce',
  code: 605,
  description: 'Not delivering to previously bounced address',
};

describe('reading a Mailgun event item', () => {
  it('reads an Events API item, a webhook event-data and a Logs API item into the same event', () => {
    assert.deepEqual(parseMailgunEvent(eventsItem, 'events'), expected);
    assert.deepEqual(parseMailgunEvent(eventsItem, 'webhook'), expected);
    assert.deepEqual(parseMailgunEvent(logsItem, 'logs'), { ...expected, domain: 'mg.example.org' });
  });

  it('reads each kind with what it carries: a click its link, a delivery its code, a message id with brackets without them', () => {
    const base = { id: 'e1', timestamp: 1700000000, recipient: 'a@example.com', 'user-variables': { 'herald-delivery': '3.9' } };
    const clicked = parseMailgunEvent({ ...base, event: 'clicked', url: 'https://shop.example.com/sale?a=1&b=2' }, 'events');
    assert.equal('error' in clicked ? clicked.error : clicked.url, 'https://shop.example.com/sale?a=1&b=2');
    const delivered = parseMailgunEvent(
      { ...base, event: 'delivered', message: { headers: { 'message-id': '<x@mg>' } }, 'delivery-status': { code: '250', message: 'OK' } },
      'events',
    );
    assert.ok(!('error' in delivered));
    assert.deepEqual(
      [delivered.type, delivered.code, delivered.description, delivered.messageId, delivered.campaignId],
      ['delivered', 250, 'OK', 'x@mg', undefined],
    );
    const temporary = parseMailgunEvent({ ...base, event: 'failed', severity: 'temporary', reason: 'generic' }, 'events');
    assert.ok(!('error' in temporary));
    assert.deepEqual([temporary.severity, temporary.reason], ['temporary', 'generic']);
    for (const type of ['accepted', 'opened', 'complained', 'unsubscribed', 'rejected', 'stored']) {
      const parsed = parseMailgunEvent({ ...base, event: type }, 'events');
      assert.equal('error' in parsed ? parsed.error : parsed.type, type);
    }
    // No user variables at all: an event Herald cannot attribute, but a readable one.
    const bare = parseMailgunEvent({ id: 'e2', event: 'delivered', '@timestamp': '2024-01-01T00:00:00Z' }, 'logs');
    assert.ok(!('error' in bare));
    assert.deepEqual([bare.deliveryId, bare.recipient, bare.messageId], [undefined, undefined, undefined]);
  });

  it('refuses a malformed item, naming the field and the id when it has one', () => {
    const logs = logsItem as Record<string, unknown>;
    const without = (item: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(item).filter(([k]) => k !== key));
    const cases: Array<[unknown, 'logs' | 'events' | 'webhook', RegExp, string | undefined]> = [
      [null, 'logs', /not a JSON object/, undefined],
      [[1, 2], 'logs', /not a JSON object/, undefined],
      ['text', 'events', /not a JSON object/, undefined],
      [without(logs, 'id'), 'logs', /no 'id'/, undefined],
      [{ ...logs, id: 5 }, 'logs', /no 'id'/, undefined],
      [without(logs, 'event'), 'logs', /no 'event'/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...logs, event: 'exploded' }, 'logs', /unknown event type 'exploded'/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [without(logs, '@timestamp'), 'logs', /no '@timestamp'/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...logs, '@timestamp': 'yesterday-ish' }, 'logs', /'@timestamp' is not a date/, 'pl271FzxTTmGRW8Uj3dUWw'],
      // A Logs item read as an Events item lacks the epoch timestamp.
      [logs, 'events', /no numeric 'timestamp'/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...eventsItem, timestamp: '1529701969' }, 'webhook', /no numeric 'timestamp'/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...logs, 'user-variables': '{"herald-delivery": ' }, 'logs', /'user-variables' is not valid JSON/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...logs, 'user-variables': '[1]' }, 'logs', /not a JSON object/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...eventsItem, 'user-variables': 12 }, 'events', /'user-variables' is neither/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [without(eventsItem, 'severity'), 'events', /failed event without a valid 'severity'/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...eventsItem, severity: 'sometimes' }, 'events', /failed event without a valid 'severity'/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...eventsItem, recipient: ['joan@example.com'] }, 'events', /'recipient' is not a string/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...eventsItem, message: 'x' }, 'events', /'message' is not an object/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...eventsItem, message: { headers: { 'message-id': 7 } } }, 'events', /message-id' is not a string/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...eventsItem, 'delivery-status': 'bounced' }, 'events', /'delivery-status' is not an object/, 'pl271FzxTTmGRW8Uj3dUWw'],
      [{ ...eventsItem, event: 'clicked', url: { href: 'x' } }, 'events', /'url' is not a string/, 'pl271FzxTTmGRW8Uj3dUWw'],
    ];
    for (const [item, shape, reason, id] of cases) {
      const parsed = parseMailgunEvent(item, shape);
      assert.ok('error' in parsed, `refused: ${JSON.stringify(item)?.slice(0, 80)}`);
      assert.match(parsed.error, reason);
      assert.equal(parsed.id, id);
    }
  });
});
