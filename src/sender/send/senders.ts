import { nextRetryDelay, type RetryPolicy, type SendOutcome } from '../../domain/retryPolicy.js';
import type { Provider } from '../../provider/provider.js';
import type { RequestOutcome } from '../metrics.js';
import type { DeliveryResult } from '../../sql/writeResults.js';
import type { OutgoingMessage, SendBacklog } from './backlog.js';
import type { ConcurrencyLimit } from './concurrencyLimit.js';
import type { Pacer } from './pacer.js';
import type { ProviderGate } from './providerGate.js';

export interface SendersOptions {
  client: Provider;
  /** The sending domain the messages go through. */
  domain: string;
  backlog: SendBacklog;
  /** Every limit a message must pass (the campaign's, the sending domain's). */
  pacers: readonly Pacer[];
  retryPolicy: RetryPolicy;
  concurrency: number;
  /** The sending domain's requests in flight, shared with its other campaigns. */
  domainSlots: ConcurrencyLimit;
  /** Holds the senders while the provider is down (shared by the domain's campaigns). */
  gate: ProviderGate;
  /** Aborts when the run is halting: waits for permits or for the provider end at once. */
  signal: AbortSignal;
  /** Resolves when sending is allowed (lease held, results can be recorded). */
  mayProceed: () => Promise<void> | void;
  /** True once the run is halting: a message not yet sent is left for release. */
  abandoned: () => boolean;
  /**
   * True for a recipient erased since this worker claimed them: the message is dropped and
   * recorded `skipped` (reason `erased`) instead of sent. Asked last before each request, so
   * a message waiting in any queue, or for a retry, never leaves once the worker knows.
   */
  withdrawn?: (recipientId: number) => boolean;
  report: (result: DeliveryResult) => Promise<void> | void;
  /** The provider refused the account or domain: the run must stop, the message is left unsent. */
  onAccountError: (outcome: { code: string; message: string }) => void;
  onRequest?: () => void;
  onResponse?: (latencyMs: number, outcome: RequestOutcome) => void;
}

/**
 * Runs `concurrency` send loops over the backlog and resolves when all have ended. A loop
 * never gives up on a message mid-request: stopping the backlog ends loops only between
 * messages, so every request made gets its result reported.
 */
export async function runSenders(options: SendersOptions): Promise<void> {
  const loops: Promise<void>[] = [];
  for (let i = 0; i < options.concurrency; i++) loops.push(sendLoop(options));
  await Promise.all(loops);
}

async function sendLoop(o: SendersOptions): Promise<void> {
  for (;;) {
    const message = await o.backlog.take();
    if (!message) return;
    // The slot comes first: the lease check below must stay the last wait before the request.
    await o.domainSlots.acquire();
    try {
      for (const pacer of o.pacers) await pacer.acquire(o.signal);
      const entry = await o.gate.enter(o.signal);
      if (entry === 'aborted') return;
      await o.mayProceed();
      if (o.abandoned()) {
        if (entry === 'probe') o.gate.cancelProbe();
        return;
      }
      if (o.withdrawn?.(message.recipientId)) {
        if (entry === 'probe') o.gate.cancelProbe();
        releaseBody(message);
        await o.report(result(message, 'skipped', null, 'erased', null));
      } else {
        await sendOne(o, message, entry === 'probe');
      }
    } finally {
      o.domainSlots.release();
    }
    o.backlog.settled();
  }
}

async function sendOne(o: SendersOptions, message: OutgoingMessage, probe: boolean): Promise<void> {
  message.attempts++;
  const started = performance.now();
  o.onRequest?.();
  const outcome = await o.client.send(message.body, message.contentType, o.domain);
  o.onResponse?.(performance.now() - started, requestOutcome(outcome));
  // The body is a view into its render batch's buffer, which goes back to the render threads
  // once every message of the batch has an outcome: one that may be retried keeps a copy.
  if (outcome.kind === 'transient' && message.batch) message.body = message.body.slice();
  releaseBody(message);
  const key = message.recipientId;

  switch (outcome.kind) {
    case 'accepted':
      o.gate.record(key, 'accepted', '', probe);
      for (const pacer of o.pacers) pacer.record('accepted');
      await o.report(result(message, 'sent', outcome.providerId, null, null));
      return;
    case 'permanent':
      o.gate.record(key, 'answered', '', probe);
      for (const pacer of o.pacers) pacer.record('other');
      await o.report(result(message, 'failed', null, outcome.code, outcome.message));
      return;
    case 'account':
      // Not this recipient's fault: its claim stays open and is released when the run stops.
      o.gate.record(key, 'answered', '', probe);
      o.onAccountError(outcome);
      return;
    case 'unknown':
      // Never retried blindly: the provider may have accepted it (see classifyNetworkError).
      o.gate.record(key, 'failed', `${outcome.code}: ${outcome.message}`, probe, message.attempts === 1);
      await o.report(result(message, 'unknown', null, outcome.code, outcome.message));
      return;
    case 'transient':
      break;
  }
  o.gate.record(key, outcome.throttled ? 'answered' : 'failed', `${outcome.code}: ${outcome.message}`, probe, message.attempts === 1);
  for (const pacer of o.pacers) pacer.record(outcome.throttled ? 'throttled' : 'other', outcome.retryAfterMs);
  // An outage is not the message's failure: it waits for the provider, budget untouched.
  if (outcome.throttled || o.gate.countsAgainstBudget()) message.failures++;
  const delay = nextRetryDelay(o.retryPolicy, message.failures, outcome.retryAfterMs, Math.random());
  if (delay === null) {
    await o.report(result(message, 'failed', null, 'transient_exhausted', `${outcome.code}: ${outcome.message}`));
    return;
  }
  o.backlog.retryLater(message, delay);
}

/** The message no longer reads its view into the render batch's buffer (see BodyBatch). */
function releaseBody(message: OutgoingMessage): void {
  message.batch?.done();
  message.batch = null;
}

function requestOutcome(outcome: SendOutcome): RequestOutcome {
  if (outcome.kind !== 'transient') return outcome.kind;
  return outcome.throttled ? 'throttled' : 'transient';
}

function result(
  message: OutgoingMessage,
  status: DeliveryResult['status'],
  providerId: string | null,
  errorCode: string | null,
  errorMessage: string | null,
): DeliveryResult {
  return {
    campaignId: message.campaignId,
    recipientId: message.recipientId,
    status,
    attempts: message.attempts,
    providerId,
    errorCode,
    errorMessage,
    sentAt: status === 'sent' || status === 'unknown' ? new Date() : null,
  };
}
