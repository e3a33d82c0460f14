import { eventOfKind, Kind, type MockStore } from './store.js';

/**
 * The event log's items as Mailgun writes them (fact sheet §4 and §4b): an Events API item
 * (also a webhook's `event-data`) has `timestamp` in epoch seconds and `user-variables` as an
 * object; a Logs API item has `@timestamp` (ISO 8601), `user-variables` as a JSON string and
 * `domain` as an object.
 */

/** What each kind adds to the common fields. */
function kindFields(store: MockStore | null, kind: number, recipient: number): Record<string, unknown> {
  switch (kind) {
    case Kind.accepted:
      return { 'log-level': 'info', method: 'HTTP', envelope: { transport: 'smtp', targets: store?.recipientAddress[recipient] } };
    case Kind.delivered: {
      // The delivery after a temporary failure is the second attempt.
      const retried = store?.retried.has(recipient) ?? false;
      return {
        'log-level': 'info',
        'delivery-status': { code: 250, message: 'OK', description: '', 'attempt-no': retried ? 2 : 1, 'mx-host': 'mx.mock.test', tls: true, utf8: true },
      };
    }
    case Kind.temporaryFailure:
      return {
        'log-level': 'warn',
        severity: 'temporary',
        reason: 'generic',
        'delivery-status': {
          code: 421,
          message: '4.7.0 Try again later',
          description: 'Temporary failure: try again later',
          'attempt-no': 1,
          'retry-seconds': 600,
        },
      };
    case Kind.permanentFailure:
      return {
        'log-level': 'error',
        severity: 'permanent',
        reason: 'bounce',
        'delivery-status': {
          code: 550,
          message: '5.1.1 The email account that you tried to reach does not exist',
          description: 'Not delivered: the mailbox does not exist',
          'bounce-type': 'hard',
          'attempt-no': 1,
        },
      };
    case Kind.opened:
      return { 'log-level': 'info', ...clientFields };
    case Kind.clicked:
      return { 'log-level': 'info', ...clientFields, url: store?.clickUrl.get(recipient) ?? '' };
    default:
      return { 'log-level': kind === Kind.complained ? 'warn' : 'info' };
  }
}

const clientFields = {
  ip: '198.51.100.7',
  geolocation: { country: 'NL', region: 'Noord-Holland', city: 'Amsterdam' },
  'client-info': { 'client-type': 'browser', 'client-os': 'Linux', 'device-type': 'desktop', 'client-name': 'Firefox', 'user-agent': 'Mozilla/5.0' },
};

function common(store: MockStore, event: number): { kind: number; recipient: number; fields: Record<string, unknown> } {
  const recipient = store.eventRecipient[event]!;
  const kind = store.eventKind[event]!;
  const address = store.recipientAddress[recipient]!;
  const record = store.messageOf(event);
  return {
    kind,
    recipient,
    fields: {
      id: store.eventId(event),
      event: eventOfKind[kind],
      recipient: address,
      'recipient-domain': address.slice(address.indexOf('@') + 1),
      message: { headers: { 'message-id': record.messageId, to: address, from: record.from, subject: record.subject }, size: record.size },
      tags: record.tags,
      flags: { 'is-test-mode': false, 'is-authenticated': true },
    },
  };
}

/** An Events API item, and a webhook's `event-data`. */
export function eventsItem(store: MockStore, event: number): Record<string, unknown> {
  const { kind, recipient, fields } = common(store, event);
  return {
    ...fields,
    timestamp: store.eventTime[event]! / 1000,
    'user-variables': store.messageOf(event).userVariables,
    ...kindFields(store, kind, recipient),
  };
}

/** The kind's own fields of a Logs item as JSON (without braces), for the kinds whose fields are fixed. */
const fixedKindJson: Array<string | undefined> = [];
for (const kind of [Kind.temporaryFailure, Kind.permanentFailure, Kind.opened, Kind.complained, Kind.unsubscribed]) {
  fixedKindJson[kind] = JSON.stringify(kindFields(null, kind, 0)).slice(1, -1);
}
const clickedJson = JSON.stringify({ 'log-level': 'info', ...clientFields }).slice(1, -1);
const deliveredJson = (attempt: number): string =>
  JSON.stringify({
    'log-level': 'info',
    'delivery-status': { code: 250, message: 'OK', description: '', 'attempt-no': attempt, 'mx-host': 'mx.mock.test', tls: true, utf8: true },
  }).slice(1, -1);
const deliveredFirstJson = deliveredJson(1);
const deliveredRetryJson = deliveredJson(2);
const flagsJson = JSON.stringify({ 'is-test-mode': false, 'is-authenticated': true });

/**
 * A Logs API item as JSON text: the same fields `eventsItem` has, in the Logs form. Written as
 * text rather than built as an object and stringified: a backfill reads tens of thousands of
 * items a second, and the objects (and their collection) were most of the mock's cost per page.
 */
export function logsItemJson(store: MockStore, event: number): string {
  const recipient = store.eventRecipient[event]!;
  const kind = store.eventKind[event]!;
  const address = JSON.stringify(store.recipientAddress[recipient]!);
  const record = store.messageOf(event);
  let own: string;
  if (kind === Kind.accepted) own = `"log-level":"info","method":"HTTP","envelope":{"transport":"smtp","targets":${address}}`;
  else if (kind === Kind.delivered) own = store.retried.has(recipient) ? deliveredRetryJson : deliveredFirstJson;
  else if (kind === Kind.clicked) own = `${clickedJson},"url":${JSON.stringify(store.clickUrl.get(recipient) ?? '')}`;
  else own = fixedKindJson[kind]!;
  const at = address.indexOf('@');
  return (
    `{"id":"${store.eventId(event)}","event":"${eventOfKind[kind]}","@timestamp":"${new Date(store.eventTime[event]!).toISOString()}",` +
    `"recipient":${address},"recipient-domain":"${at < 0 ? '' : address.slice(at + 1, -1)}","recipient-provider":"Mock",` +
    `"message":{"headers":{"message-id":${JSON.stringify(record.messageId)},"to":${address},"from":${JSON.stringify(record.from)},` +
    `"subject":${JSON.stringify(record.subject)}},"size":${record.size}},"tags":${JSON.stringify(record.tags)},"flags":${flagsJson},` +
    `"domain":{"name":${JSON.stringify(record.domain)}},"user-variables":${JSON.stringify(store.userVariablesJson(record))},${own}}`
  );
}
