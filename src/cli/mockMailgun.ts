import { type Command, InvalidArgumentError, Option } from 'commander';
import { startMockMailgun } from '../../tools/mock-mailgun/server.js';
import type { RecordMode } from '../../tools/mock-mailgun/store.js';
import { closeOnSignal } from '../app/signals.js';
import { intArg } from './args.js';

function share(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError(`expected a fraction between 0 and 1, got '${value}'`);
  return n;
}

export function registerMockMailgunCommand(program: Command): void {
  program
    .command('mock-mailgun')
    .description("run Herald's Mailgun-compatible mock API (for tests, demos and benchmarks)")
    .option('--port <port>', 'port (0 picks a free one)', intArg(0), 8025)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--api-key <key>', 'API key it accepts (default: MAILGUN_API_KEY, else key-mock)')
    .option('--domain <domain>', 'accept only this sending domain (repeatable; default: any)', (v: string, p: string[] = []) => [...p, v])
    .option('--latency <ms>', 'answer after this many milliseconds', intArg(0), 0)
    .option('--jitter <ms>', 'plus or minus this many milliseconds', intArg(0), 0)
    .option('--fail-rate <p>', 'share of requests answered 503', share, 0)
    .option('--throttle-rate <p>', 'share of requests answered 429 (Retry-After: 1)', share, 0)
    .option('--permanent-fail-rate <p>', 'share of deliveries refused with 400 on every attempt', share, 0)
    .option('--stuck-rate <p>', 'share of deliveries answered 503 on every attempt', share, 0)
    .option('--rate-limit <n>', 'answer 429 past N accepted requests per second', intArg())
    .option('--seed <n>', 'make fault injection and the events after acceptance reproducible', intArg(0))
    .addOption(
      new Option('--record <mode>', 'what to keep of accepted messages (deliveries and none keep no event log)')
        .choices(['full', 'counts', 'deliveries', 'none'])
        .default('full'),
    )
    .option('--bounce-rate <p>', 'share of accepted recipients that fail permanently afterwards (a hard bounce) instead of being delivered', share, 0)
    .option('--temp-fail-rate <p>', 'share of accepted recipients that fail temporarily first, then are delivered on the retry', share, 0)
    .option('--open-rate <p>', 'share of delivered recipients that open the message', share, 0)
    .option('--click-rate <p>', "share of those who opened that click one of the message's links", share, 0)
    .option('--complaint-rate <p>', 'share of delivered recipients that complain (spam report)', share, 0)
    .option('--unsubscribe-rate <p>', 'share of delivered recipients that unsubscribe', share, 0)
    .option('--event-delay-ms <ms>', 'mean time from one event of a recipient to its next (each 0.5x to 1.5x of it)', intArg(0), 0)
    .option('--webhook-url <url>', 'post signed webhooks for the events after acceptance here')
    .option('--webhook-signing-key <key>', 'key to sign webhooks with (default: MAILGUN_WEBHOOK_SIGNING_KEY)')
    .option('--webhook-drop-rate <p>', 'share of webhooks never posted (the events stay in the log)', share, 0)
    .option('--no-logs-api', 'answer the Logs API (POST /v1/analytics/logs) 404, as for an account without it')
    .option('--logs-fail-rate <p>', 'share of Logs API requests answered 503', share, 0)
    .option('--logs-throttle-rate <p>', 'share of Logs API requests answered 429 (Retry-After: 1)', share, 0)
    .option('--logs-malformed-rate <p>', 'share of Logs API items served malformed (the same items every time)', share, 0)
    .option('--drop-rate <p>', 'share of accepted messages whose connection is closed instead of answered', share, 0)
    .option('--stall-rate <p>', 'share of accepted messages answered only after --stall-ms more', share, 0)
    .option('--stall-ms <ms>', 'how long a stalled answer is held', intArg(0), 5000)
    .option('--stall-every <ms>', 'every this many ms the whole server stalls (accepts and answers nothing) ...', intArg(1))
    .option('--stall-for <ms>', '... for this many ms', intArg(0), 0)
    .option('--keep-bodies <n>', 'keep the raw request bodies of the last N accepted messages (GET /mock/bodies)', intArg(0), 0)
    .action(
      async (o: {
        dropRate: number;
        stallRate: number;
        stallMs: number;
        stallEvery?: number;
        stallFor: number;
        keepBodies: number;
        port: number;
        host: string;
        apiKey?: string;
        domain?: string[];
        latency: number;
        jitter: number;
        failRate: number;
        throttleRate: number;
        permanentFailRate: number;
        stuckRate: number;
        rateLimit?: number;
        seed?: number;
        record: RecordMode;
        webhookUrl?: string;
        webhookSigningKey?: string;
        webhookDropRate: number;
        bounceRate: number;
        tempFailRate: number;
        openRate: number;
        clickRate: number;
        complaintRate: number;
        unsubscribeRate: number;
        eventDelayMs: number;
        logsApi: boolean;
        logsFailRate: number;
        logsThrottleRate: number;
        logsMalformedRate: number;
      }) => {
        const signingKey = o.webhookSigningKey ?? process.env.MAILGUN_WEBHOOK_SIGNING_KEY;
        if (o.webhookUrl && !signingKey) throw new InvalidArgumentError('--webhook-url needs --webhook-signing-key (or MAILGUN_WEBHOOK_SIGNING_KEY)');
        if (o.webhookUrl && (o.record === 'deliveries' || o.record === 'none')) {
          throw new InvalidArgumentError(`--webhook-url needs the event log: --record full or counts, not ${o.record}`);
        }
        if (o.bounceRate + o.tempFailRate > 1) throw new InvalidArgumentError('--bounce-rate and --temp-fail-rate add up to more than 1');
        const mock = await startMockMailgun({
          port: o.port,
          host: o.host,
          apiKey: o.apiKey ?? process.env.MAILGUN_API_KEY ?? 'key-mock',
          domains: o.domain ?? [],
          latencyMs: o.latency,
          jitterMs: o.jitter,
          faults: { failRate: o.failRate, throttleRate: o.throttleRate, permanentFailRate: o.permanentFailRate, stuckRate: o.stuckRate, seed: o.seed ?? null },
          rateLimit: o.rateLimit ?? null,
          record: o.record,
          followUp: {
            bounceRate: o.bounceRate,
            temporaryFailRate: o.tempFailRate,
            openRate: o.openRate,
            clickRate: o.clickRate,
            complaintRate: o.complaintRate,
            unsubscribeRate: o.unsubscribeRate,
            delayMs: o.eventDelayMs,
          },
          webhooks: o.webhookUrl ? { url: o.webhookUrl, signingKey: signingKey!, dropRate: o.webhookDropRate } : null,
          logsApi: o.logsApi,
          logsFaults: { failRate: o.logsFailRate, throttleRate: o.logsThrottleRate, malformedRate: o.logsMalformedRate },
          dropRate: o.dropRate,
          stallRate: o.stallRate,
          stallMs: o.stallMs,
          keepBodies: o.keepBodies,
          stalls: o.stallEvery && o.stallFor > 0 ? { everyMs: o.stallEvery, forMs: Math.min(o.stallFor, o.stallEvery) } : null,
        });
        console.log(`mock Mailgun listening on ${mock.url}`);
        await closeOnSignal(() => mock.close());
      },
    );
}
