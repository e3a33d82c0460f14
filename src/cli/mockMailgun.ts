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
    .option('--seed <n>', 'make fault injection reproducible per delivery and attempt', intArg(0))
    .addOption(new Option('--record <mode>', 'what to keep of accepted messages').choices(['full', 'counts', 'deliveries', 'none']).default('full'))
    .option('--webhook-url <url>', 'post signed webhooks (delivered, bounced, complained) for accepted messages here')
    .option('--webhook-signing-key <key>', 'key to sign webhooks with (default: MAILGUN_WEBHOOK_SIGNING_KEY)')
    .option('--bounce-rate <p>', 'share of accepted messages reported as permanent failures', share, 0)
    .option('--complaint-rate <p>', 'share of accepted messages reported as complaints', share, 0)
    .option('--drop-rate <p>', 'share of accepted messages whose connection is closed instead of answered', share, 0)
    .option('--stall-rate <p>', 'share of accepted messages answered only after --stall-ms more', share, 0)
    .option('--stall-ms <ms>', 'how long a stalled answer is held', intArg(0), 5000)
    .option('--stall-every <ms>', 'every this many ms the whole server stalls (accepts and answers nothing) ...', intArg(1))
    .option('--stall-for <ms>', '... for this many ms', intArg(0), 0)
    .action(
      async (o: {
        dropRate: number;
        stallRate: number;
        stallMs: number;
        stallEvery?: number;
        stallFor: number;
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
        bounceRate: number;
        complaintRate: number;
      }) => {
        const signingKey = o.webhookSigningKey ?? process.env.MAILGUN_WEBHOOK_SIGNING_KEY;
        if (o.webhookUrl && !signingKey) throw new InvalidArgumentError('--webhook-url needs --webhook-signing-key (or MAILGUN_WEBHOOK_SIGNING_KEY)');
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
          webhooks: o.webhookUrl ? { url: o.webhookUrl, signingKey: signingKey!, bounceRate: o.bounceRate, complaintRate: o.complaintRate } : null,
          dropRate: o.dropRate,
          stallRate: o.stallRate,
          stallMs: o.stallMs,
          stalls: o.stallEvery && o.stallFor > 0 ? { everyMs: o.stallEvery, forMs: Math.min(o.stallFor, o.stallEvery) } : null,
        });
        console.log(`mock Mailgun listening on ${mock.url}`);
        await closeOnSignal(() => mock.close());
      },
    );
}
