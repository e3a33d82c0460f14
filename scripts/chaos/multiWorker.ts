import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { connect, type Db } from '../../src/db/connect.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import { formatDeliveryId } from '../../src/domain/deliveryId.js';
import { recountKeptCounts, type CountDifference } from '../../src/sql/recountKeptCounts.js';
import { countDeliveries } from '../../src/sql/countDeliveries.js';
import { transitionCampaign } from '../../src/sql/transitionCampaign.js';
import { seedCampaign, seedList } from '../../test/support/fixtures.js';
import { PrivatePostgres } from '../../test/support/privatePostgres.js';
import { PrivateRedis } from '../../test/support/privateRedis.js';
import { MOCK_DOMAIN, MOCK_KEY, spawnHerald, startMockProcess, type HeraldProcess, type MockProcess } from '../../test/support/processes.js';

export interface ChaosOptions {
  recipients: number;
  workers: number;
  /** The campaign's rate; it lives in Redis, shared by the workers. */
  rate: number;
  /** How long the provider answers every request 503. */
  outageMs: number;
  pgPort: number;
  log: (line: string) => void;
  /** Where to leave worker logs and the provider's duplicate acceptances, when there are any. */
  logDir?: string;
}

export interface ChaosResult {
  recipients: number;
  sent: number;
  failed: number;
  open: number;
  /** Recipients the provider accepted more than once. */
  duplicates: number;
  /** Recipients the provider never accepted. */
  lost: number;
  /** Sends of unknown outcome that reconciliation found accepted / sent again. */
  unknownReconciledSent: number;
  unknownResent: number;
  killed: number;
  /** Bytes the provider received from 1.2 s to 4 s after `pause` returned (must be 0). */
  bytesAfterPauseNoticed: number;
  seconds: number;
  workerExitCodes: Array<number | null>;
  /** Kept counts that differ from count(*) of the rows after it all (must be none). */
  countDifferences: CountDifference[];
}

/**
 * Several `herald worker --watch` on one campaign, with Redis for the shared rate, through:
 * SIGKILL of random workers, pause and resume, a Redis restart, a Postgres restart, a provider
 * outage, and a provider that stalls now and then (requests that time out after the provider
 * accepted them). Used by test/chaos-multi-worker.test.ts and `npm run chaos`.
 */
export async function runMultiWorkerChaos(o: ChaosOptions): Promise<ChaosResult> {
  const pg = await PrivatePostgres.create(o.pgPort);
  const redis = await PrivateRedis.start();
  let db: Db | null = null;
  let mock: MockProcess | null = null;
  const workers: HeraldProcess[] = [];
  const finished: HeraldProcess[] = [];
  try {
    db = await connect({ databaseUrl: pg.url, onPoolError: () => undefined });
    await migrateToLatest(db);
    mock = await startMockProcess([
      '--latency',
      '30',
      '--jitter',
      '10',
      '--fail-rate',
      '0.01',
      '--throttle-rate',
      '0.01',
      // One answer in 500 comes 3 s late (after the 2 s request timeout), and every 15 s the
      // whole provider stops for 2.5 s: both leave sends of unknown outcome.
      '--stall-rate',
      '0.002',
      '--stall-ms',
      '3000',
      '--stall-every',
      '15000',
      '--stall-for',
      '2500',
      '--record',
      'counts',
    ]);
    const { listId, recipientIds } = await seedList(db.kysely, 'chaos', o.recipients);
    const id = await seedCampaign(db.kysely, listId, { rate: o.rate, unknownPolicy: 'reconcile' });
    const env = {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      MAILGUN_API_KEY: MOCK_KEY,
      MAILGUN_DOMAIN: MOCK_DOMAIN,
      MAILGUN_BASE_URL: mock.url,
      LOG_LEVEL: 'info',
    };
    // Unknown sends are looked up in the provider's log once nothing can still be accepted:
    // after the lease (a killed worker's requests) and the longest late acceptance (a stall),
    // as Mailgun's ~30 min log delay is the default for.
    const spawnWorker = () =>
      spawnHerald(['worker', '--watch', '--concurrency', '200', '--lease-ms', '8000', '--request-timeout', '2000', '--reconcile-after', '30000'], env);
    for (let i = 0; i < o.workers; i++) workers.push(spawnWorker());
    const started = Date.now();
    let killed = 0;

    const sent = async (): Promise<number> =>
      countDeliveries(db!.kysely, id).then(
        (c) => c.sent,
        () => -1,
      );
    const waitForShare = async (share: number): Promise<void> => {
      const deadline = Date.now() + 20 * 60_000;
      while ((await sent()) < share * o.recipients) {
        if (Date.now() > deadline) throw new Error(`stuck below ${share * 100}% sent`);
        await sleep(200);
      }
    };
    const killOne = async (): Promise<void> => {
      const i = Math.floor(Math.random() * workers.length);
      const victim = workers[i]!;
      victim.process.kill('SIGKILL');
      await victim.exited;
      finished.push(victim);
      killed++;
      workers[i] = spawnWorker();
      o.log(`SIGKILL worker ${i}, started a replacement`);
    };
    const mockBytes = async (): Promise<number> => ((await mock!.stats()) as unknown as { bytesReceived: number }).bytesReceived;

    await waitForShare(0.1);
    await killOne();

    await waitForShare(0.2);
    await transitionCampaign(db.kysely, id, 'pause');
    const pausedAt = Date.now();
    await sleep(Math.max(0, pausedAt + 1200 - Date.now()));
    const atNotice = await mockBytes();
    await sleep(2800);
    const bytesAfterPauseNoticed = (await mockBytes()) - atNotice;
    o.log(`paused: ${bytesAfterPauseNoticed} bytes reached the provider 1.2–4 s after pause returned`);
    await transitionCampaign(db.kysely, id, 'resume');

    await waitForShare(0.35);
    await redis.down();
    await sleep(2000);
    await redis.up();
    o.log('restarted Redis (every key lost)');

    await waitForShare(0.5);
    await pg.stop('fast');
    await sleep(2000);
    await pg.start();
    o.log('restarted Postgres');

    await waitForShare(0.65);
    await request(`${mock.url}/mock/outage?ms=${o.outageMs}`, { method: 'POST' }).then((r) => r.body.dump());
    o.log(`provider outage of ${o.outageMs / 1000} s`);
    await sleep(o.outageMs);

    await waitForShare(0.8);
    await killOne();

    const deadline = Date.now() + 30 * 60_000;
    for (;;) {
      const row = await db.kysely
        .selectFrom('campaigns')
        .select('status')
        .where('id', '=', id)
        .executeTakeFirst()
        .catch(() => undefined);
      if (row?.status === 'finished') break;
      if (Date.now() > deadline) throw new Error('the campaign did not finish');
      await sleep(250);
    }
    const seconds = (Date.now() - started) / 1000;
    for (const w of workers) w.process.kill('SIGTERM');
    const workerExitCodes = await Promise.all(workers.map((w) => w.exited));
    finished.push(...workers.splice(0));

    const counts = await countDeliveries(db.kysely, id);
    // The kept counts went through kills, a pause, a Postgres restart: they must still equal the rows.
    const countDifferences = await recountKeptCounts(db.kysely, { fix: false });
    if (countDifferences.length > 0) o.log(`kept counts differ from the rows: ${JSON.stringify(countDifferences)}`);
    const accepted = await mock.deliveries();
    let duplicates = 0;
    let lost = 0;
    for (const r of recipientIds) {
      const n = accepted[formatDeliveryId(id, r)] ?? 0;
      if (n > 1) duplicates++;
      if (n === 0) lost++;
    }
    if (duplicates > 0 && o.logDir) {
      const { mkdirSync, writeFileSync } = await import('node:fs');
      mkdirSync(o.logDir, { recursive: true });
      for (const [i, w] of finished.entries()) writeFileSync(`${o.logDir}/worker-${i}.log`, w.output());
      const twice = (await (await request(`${mock.url}/mock/duplicates`)).body.json()) as Record<string, number[]>;
      writeFileSync(`${o.logDir}/duplicates.json`, JSON.stringify({ startedAt: started / 1000, twice }, null, 1));
      o.log(`duplicates: worker logs and acceptance times in ${o.logDir}`);
    }
    let unknownReconciledSent = 0;
    let unknownResent = 0;
    for (const w of finished) {
      for (const line of w.output().split('\n')) {
        if (!line.includes('resolved deliveries of unknown outcome')) continue;
        try {
          const entry = JSON.parse(line) as { sent?: number; resend?: number };
          unknownReconciledSent += entry.sent ?? 0;
          unknownResent += entry.resend ?? 0;
        } catch {
          // Not a log line of ours.
        }
      }
    }
    return {
      recipients: o.recipients,
      sent: counts.sent,
      failed: counts.failed,
      open: counts.pending + counts.queued + counts.unknown,
      duplicates,
      lost,
      unknownReconciledSent,
      unknownResent,
      killed,
      bytesAfterPauseNoticed,
      seconds,
      workerExitCodes,
      countDifferences,
    };
  } finally {
    for (const w of workers) w.process.kill('SIGKILL');
    await mock?.stop();
    await db?.close();
    await redis.down();
    await pg.destroy();
  }
}

const isMain = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, '/dist/'));
if (isMain) {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const unavailable = PrivatePostgres.unavailableReason() ?? PrivateRedis.unavailableReason();
  if (unavailable) {
    console.error(`chaos: cannot run here: ${unavailable}`);
    process.exit(1);
  }
  const result = await runMultiWorkerChaos({
    recipients: arg('recipients', 200_000),
    workers: arg('workers', 3),
    rate: arg('rate', 3000),
    outageMs: arg('outage-ms', 60_000),
    pgPort: 56_432 + (process.pid % 1000),
    logDir: `/tmp/herald-chaos-${process.pid}`,
    log: (line) => console.log(`[${new Date().toISOString()} ${Date.now() / 1000}] ${line}`),
  });
  console.log(JSON.stringify(result, null, 2));
  process.exit(result.duplicates === 0 && result.lost === 0 && result.open === 0 && result.failed === 0 && result.countDifferences.length === 0 ? 0 : 1);
}
