import { type Command, Option } from 'commander';
import type { Config } from '../config/config.js';
import type { Db } from '../db/connect.js';
import { createCampaign } from '../campaigns/create.js';
import { controlCampaign, getCampaignOrThrow } from '../campaigns/control.js';
import { campaignStatusReport, formatStatus } from '../campaigns/status.js';
import type { Logger } from '../config/log.js';
import { onShutdownSignal } from '../app/signals.js';
import { countDeliveries } from '../sql/countDeliveries.js';
import { DEFAULT_RETRY_REASONS, retryFailedDeliveries, retryFailedSummary } from '../campaigns/retryFailed.js';
import { writeReport } from '../campaigns/report.js';
import { campaignContentView, formatContent, type CampaignContentView } from '../campaigns/content.js';
import { assertDetailsKept, purgeCampaignDetails } from '../campaigns/purgeDetails.js';
import { campaignIdArg, collect, intArg } from './args.js';
import { withContext } from './context.js';
import { showProgress } from './progress.js';
import { RunStats } from './runStats.js';
import type { SendingOptions } from '../app/sendingStack.js';
import { openRendering } from '../sender/render/openRendering.js';
import { capYoungGenerationBeforeAction } from '../app/youngGeneration.js';
import { tuneGarbageCollection } from '../app/gcTuning.js';
import { dryRun } from '../campaigns/dryRun.js';
import { sendTestMessage } from '../campaigns/testSend.js';
import { checkSourcesOrThrow } from '../campaigns/create.js';
import { scheduleCampaign } from '../campaigns/control.js';
import { normalizeEmail } from '../domain/email.js';
import { UserError } from '../domain/errors.js';
import { dryRunChecks, previewCampaign, previewEml } from '../campaigns/preview.js';
import { formatCheck } from '../domain/templateChecks.js';
import fs from 'node:fs';

export function registerCampaignCommands(program: Command): void {
  const campaign = program.command('campaign').description('create, run and inspect campaigns');

  campaign
    .command('create')
    .description('create a draft campaign and print its id')
    .requiredOption('--name <name>', 'campaign name')
    .option('--list <list>', 'list to send to (repeatable: their union, each recipient once)', collect)
    .option('--exclude-list <list>', 'leave out the members of this list (repeatable)', collect)
    .option('--segment <name>', 'only recipients matching this saved segment (herald segments ls)')
    .option('--where <expression>', 'only recipients matching this segment text, e.g. \'plan = "pro" and clicked within 90 days\' (docs/segments.md)')
    .requiredOption('--template <name>', 'template folder under templates/')
    .requiredOption('--subject <subject>', 'subject line (Nunjucks, e.g. "Hi {{ name }}")')
    .requiredOption('--from <address>', 'sender, "Name <addr@domain>" or addr@domain')
    .option('--reply-to <address>', 'Reply-To address')
    .option('--domain <name>', 'Mailgun sending domain; its limits and daily cap apply (default: MAILGUN_DOMAIN)')
    .option('--tag <tag>', 'Mailgun tag (repeatable, at most 3)', collect)
    .option('--rate <n>', 'messages per second (default: as fast as the provider allows)', intArg())
    .option('--max-concurrency <n>', 'requests in flight for this campaign', intArg())
    .option('--priority <n>', 'higher runs first when workers are busy', intArg(-1000))
    .addOption(
      new Option('--unknown <policy>', 'what to do with sends of unknown outcome after a crash').choices(['reconcile', 'resend', 'skip']).default('reconcile'),
    )
    .action(
      (o: {
        name: string;
        list?: string[];
        excludeList?: string[];
        segment?: string;
        where?: string;
        template: string;
        subject: string;
        from: string;
        replyTo?: string;
        domain?: string;
        tag?: string[];
        rate?: number;
        maxConcurrency?: number;
        priority?: number;
        unknown: 'reconcile' | 'resend' | 'skip';
      }) =>
        withContext(async ({ db, config }) => {
          const id = await createCampaign(db, config, {
            name: o.name,
            lists: o.list,
            excludeLists: o.excludeList,
            segment: o.segment,
            where: o.where,
            template: o.template,
            subject: o.subject,
            from: o.from,
            replyTo: o.replyTo,
            domain: o.domain,
            tags: o.tag,
            ratePerSecond: o.rate,
            maxConcurrency: o.maxConcurrency,
            priority: o.priority,
            unknownPolicy: o.unknown,
          });
          console.log(id);
        }),
    );

  addSendingOptions(
    campaign
      .command('start <id>')
      .description('start (or restart) a campaign; with --wait, send it from this process')
      .option('--wait', 'send from this process with a live progress bar until it ends')
      .option('--stats-json <file>', 'with --wait: write run statistics (rate, latency, event-loop delay, RSS, CPU) as JSON')
      .option('--dry-run', 'render every recipient and report render errors; send nothing, record nothing'),
    (o) => Boolean(o.wait) && !o.dryRun,
  ).action((idArg: string, o: SendingOptions & { wait?: boolean; dryRun?: boolean; statsJson?: string; shutdownTimeout: number }) =>
    withContext(async ({ db, config, log }) => {
      const id = campaignIdArg(idArg);
      if (o.dryRun) {
        await runDry(db, config, id, o);
        return;
      }
      await controlCampaign(db, config, id, 'start');
      if (!o.wait) {
        console.log(`campaign ${id} is running; a worker sends it (herald worker)`);
        return;
      }
      await sendAndWait(db, config, log, id, o);
    }),
  );

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    campaign
      .command(`${action} <id>`)
      .description(
        {
          pause: 'stop sending; unsent claims are released and sent after resume',
          resume: 'continue a paused campaign where it stopped',
          cancel: 'stop for good; nothing more is sent, the report stays',
        }[action],
      )
      .action((idArg: string) =>
        withContext(async ({ db, config }) => {
          const updated = await controlCampaign(db, config, campaignIdArg(idArg), action);
          console.log(`campaign ${updated.id} is ${updated.status}`);
        }),
      );
  }

  campaign
    .command('schedule <id>')
    .description('start the campaign at a given time (a worker must be running with --watch)')
    .requiredOption('--at <time>', 'ISO 8601 time, e.g. 2026-12-01T09:00:00+01:00')
    .action((idArg: string, o: { at: string }) =>
      withContext(async ({ db, config }) => {
        const at = new Date(o.at);
        if (!/^\d{4}-\d{2}-\d{2}T/.test(o.at) || Number.isNaN(at.getTime())) throw new UserError(`--at '${o.at}' is not an ISO 8601 time`);
        const updated = await scheduleCampaign(db, config, campaignIdArg(idArg), at);
        console.log(`campaign ${updated.id} is scheduled for ${at.toISOString()}`);
      }),
    );

  campaign
    .command('test-send <id>')
    .description('render for one recipient and send just that message to ADDRESS; delivery records are untouched')
    .requiredOption('--to <address>', 'where to send the test')
    .option('--as <email>', 'render as this recipient (default: the first recipient of its audience)')
    .action((idArg: string, o: { to: string; as?: string }) =>
      withContext(async ({ db, config }) => {
        const campaignRow = await getCampaignOrThrow(db, campaignIdArg(idArg));
        const to = normalizeEmail(o.to);
        if (!to.ok) throw new UserError(`--to '${o.to}': ${to.reason}`);
        const { recipient, outcome } = await sendTestMessage(db, config, campaignRow, to.email, o.as);
        if (outcome.kind !== 'accepted') throw new UserError(`the provider refused the test message: ${outcome.code} ${outcome.message}`);
        console.log(`sent a test of campaign ${campaignRow.id} to ${to.email}, rendered as ${recipient.email}: ${outcome.providerId}`);
      }),
    );

  campaign
    .command('preview <id>')
    .description('render the message exactly as it would be sent to one recipient, and check it (docs/operations.md, "Preview and checks")')
    .option('--as <email>', 'render as this recipient (default: the first recipient of its audience; sample data when it is empty)')
    .addOption(
      new Option('--format <format>', 'html or text: that part; eml: the whole message (RFC 5322); json: all of it with the checks')
        .choices(['html', 'text', 'eml', 'json'])
        .default('html'),
    )
    .option('--out <file>', 'write to this file instead of standard output')
    .action((idArg: string, o: { as?: string; format: 'html' | 'text' | 'eml' | 'json'; out?: string }) =>
      withContext(async ({ db, config }) => {
        const campaignRow = await getCampaignOrThrow(db, campaignIdArg(idArg));
        const { preview, rendered } = await previewCampaign(db, config, campaignRow, o.as);
        const output =
          o.format === 'json'
            ? `${JSON.stringify(preview, null, 2)}\n`
            : o.format === 'eml'
              ? await previewEml(rendered, campaignRow, config)
              : o.format === 'text'
                ? preview.text
                : preview.html;
        if (o.out) fs.writeFileSync(o.out, output);
        else process.stdout.write(output);
        // Only the requested part goes to standard output; what it was rendered as, and the
        // checks, go to standard error (in json they are part of the output).
        if (o.format !== 'json') {
          const who = { given: 'given with --as', audience: 'the first recipient of its audience', sample: 'sample data' }[preview.recipient.source];
          console.error(`campaign ${campaignRow.id} rendered as ${preview.recipient.email} (${who})${o.out ? `, written to ${o.out}` : ''}`);
          for (const note of preview.notes) console.error(`note: ${note}`);
          for (const check of preview.checks) console.error(formatCheck(check));
          if (preview.checks.length === 0) console.error('checks: nothing to report');
        }
      }),
    );

  campaign
    .command('retry-failed <id>')
    .description('re-queue the failed deliveries of a finished or paused campaign (transient failures by default)')
    .option('--reason <code>', `error code to retry (repeatable; default: ${DEFAULT_RETRY_REASONS.join(', ')})`, collect)
    .option('--since <time>', 'only deliveries that failed at or after this ISO 8601 time')
    .action((idArg: string, o: { reason?: string[]; since?: string }) =>
      withContext(async ({ db }) => {
        const outcome = await retryFailedDeliveries(db, campaignIdArg(idArg), { reasons: o.reason, since: o.since, sinceName: '--since' });
        console.log(retryFailedSummary(outcome));
      }),
    );

  campaign
    .command('status <id>')
    .description('counts per delivery status, current rate, ETA and the workers holding it')
    .option('--json', 'machine-readable output')
    .action((idArg: string, o: { json?: boolean }) =>
      withContext(async ({ db }) => {
        const report = await campaignStatusReport(db, await getCampaignOrThrow(db, campaignIdArg(idArg)));
        console.log(o.json ? JSON.stringify(report, null, 2) : formatStatus(report));
      }),
    );

  campaign
    .command('show <id>')
    .description("a campaign's settings and its content hash (the template sources fixed at its first start)")
    .option('--json', 'machine-readable output')
    .option('--content', 'print every file it renders from (and what MJML or CSS inlining made of its HTML)')
    .action((idArg: string, o: { json?: boolean; content?: boolean }) =>
      withContext(async ({ db }) => {
        const row = await getCampaignOrThrow(db, campaignIdArg(idArg));
        const content = await campaignContentView(db, row);
        const settings = {
          id: row.id,
          name: row.name,
          status: row.status,
          template: row.template,
          subject: row.subject,
          from: row.from_address,
          replyTo: row.reply_to,
          tags: row.tags,
          domain: row.sending_domain,
          startedAt: row.started_at?.toISOString() ?? null,
        };
        if (o.json) {
          const { files, html, ...rest } = content;
          const summary = { ...rest, html: { file: html.file, via: html.via }, files: Object.keys(files).sort() };
          console.log(JSON.stringify({ ...settings, contentHash: content.stored ? content.hash : null, content: o.content ? content : summary }, null, 2));
          return;
        }
        console.log(formatShow(settings, content));
        if (o.content) console.log(formatContent(content));
      }),
    );

  campaign
    .command('report <id>')
    .description('stream one row per recipient: email, status, attempts, provider id, error, sent_at')
    .addOption(new Option('--format <format>', 'output format').choices(['csv', 'jsonl']).default('csv'))
    .action((idArg: string, o: { format: 'csv' | 'jsonl' }) =>
      withContext(async ({ db }) => {
        const id = campaignIdArg(idArg);
        assertDetailsKept(await getCampaignOrThrow(db, id), 'report');
        // Each page outlives a few young-generation collections while it is written, so the old
        // generation fills with dead pages: collect it before it doubles, as a sending process does.
        tuneGarbageCollection();
        await writeReport(db, id, o.format, process.stdout);
      }),
    );

  campaign
    .command('purge-details <id>')
    .description("drop a finished or cancelled campaign's per-recipient rows (deliveries, events, attempts); its counts stay")
    .option('--yes', 'really delete them: the report and retry-failed are gone for good')
    .action((idArg: string, o: { yes?: boolean }) =>
      withContext(async ({ db }) => {
        const id = campaignIdArg(idArg);
        const campaignRow = await getCampaignOrThrow(db, id);
        if (!o.yes) {
          const counts = await countDeliveries(db.kysely, id);
          const rows = Object.values(counts).reduce((a, b) => a + b, 0);
          throw new UserError(
            `campaign purge-details ${id} would delete the per-recipient rows of campaign ${id} "${campaignRow.name}" (${rows} deliveries, with their events and attempts) for good; add --yes to do it`,
          );
        }
        const outcome = await purgeCampaignDetails(db, id);
        console.log(`purged ${outcome.deleted} delivery rows of campaign ${id}; its counts remain (campaign status ${id})`);
      }),
    );
}

/**
 * The options every sending command takes. `sends` tells from the parsed options whether this
 * invocation will send, and so needs a sending process's V8 settings (see youngGeneration.ts).
 */
export function addSendingOptions(command: Command, sends: (opts: Record<string, unknown>) => boolean = () => true): Command {
  return capYoungGenerationBeforeAction(command, sends)
    .option('--concurrency <n>', 'requests in flight (default 500)', intArg())
    .option('--batch-size <n>', 'recipients claimed and rendered per batch (default 500)', intArg())
    .option('--render-threads <n>', 'render worker threads (default: cores - 1)', intArg())
    .option('--lease-ms <n>', 'a worker silent this long is presumed dead (default 40000)', intArg(1000))
    .option('--request-timeout <ms>', 'give up on a request after this long (default 10000, at most lease/4)', intArg(100))
    .option(
      '--reconcile-after <ms>',
      "look up a send of unknown outcome in Mailgun's events this long after its request (or its dead worker's last heartbeat) (default 1800000: the event log needs ~30 min to be complete)",
      intArg(0),
    )
    .option(
      '--max-attempts <n>',
      'requests per message before it fails as transient_exhausted (default 6; attempts during a provider outage do not count)',
      intArg(),
    )
    .option('--limiter-stall <ms>', 'with REDIS_URL: a wait this long for rate-limit permits is reported and the limiter rebuilt (default 15000)', intArg(100))
    .option('--shutdown-timeout <ms>', 'longest a graceful stop may take', intArg(), 30_000);
}

export async function sendAndWait(
  db: Db,
  config: Config,
  log: Logger,
  id: number,
  o: SendingOptions & { shutdownTimeout: number; statsJson?: string },
): Promise<void> {
  // Loaded here, not at the top: the sending stack (HTTP client, rate limiter, Redis, metrics)
  // is most of what a sending command loads, and the campaign commands that do not send skip it.
  const { openSendingStack } = await import('../app/sendingStack.js');
  const stack = await openSendingStack(config, db, log, o);
  const stats = new RunStats();
  const detach = onShutdownSignal(log, o.shutdownTimeout, () => stack.close());
  const campaign = await getCampaignOrThrow(db, id);
  const base = await countDeliveries(db.kysely, id);
  // Fixed when the campaign started (docs/audience.md).
  const total = campaign.audience_size ?? 0;
  const baseDone = base.sent + base.failed + base.suppressed + base.skipped;
  const started = Date.now();
  const stopProgress = showProgress(() => {
    const p = stack.worker.progress.get(id) ?? { sent: 0, failed: 0 };
    return { total, done: baseDone + p.sent + p.failed, sent: base.sent + p.sent, failed: base.failed + p.failed, waitingUntil: stack.worker.waitingUntil(id) };
  });
  try {
    await stack.worker.runCampaigns((c) => c.id === id, false);
  } finally {
    stopProgress();
    await stack.close();
    detach();
  }
  const seconds = (Date.now() - started) / 1000;
  const counts = await countDeliveries(db.kysely, id);
  const final = await getCampaignOrThrow(db, id);
  // What this process sent, from its own reporter: the database's count grows with every
  // other process sending the same campaign, and counting from it credited each with all.
  const sentNow = stack.worker.progress.get(id)?.sent ?? 0;
  if (o.statsJson) stats.write(o.statsJson, { campaignId: id, status: final.status, sent: sentNow, seconds, latency: stack.worker.latency });
  console.log(
    [
      `campaign ${id} ${final.status}: sent ${counts.sent}, failed ${counts.failed}, suppressed ${counts.suppressed}, skipped ${counts.skipped}, open ${counts.pending + counts.queued + counts.unknown}`,
      `this run: ${sentNow} sent in ${seconds.toFixed(1)} s (${Math.round(sentNow / Math.max(seconds, 0.001))} msgs/s)`,
    ].join('\n'),
  );
  // The provider refused the account: nothing more can be sent until the operator fixes it.
  if (final.status === 'paused' && final.paused_reason)
    throw new UserError(`campaign ${id} paused itself: ${final.paused_reason}; fix it, then run: herald campaign resume ${id}`);
}

async function runDry(db: Db, config: Config, id: number, o: SendingOptions): Promise<void> {
  const campaignRow = await getCampaignOrThrow(db, id);
  const { renderer, specFor } = await openRendering(config, db, o);
  const started = Date.now();
  try {
    // The content it would send: the stored snapshot once started, else the files, checked whole.
    const spec = await specFor(campaignRow);
    if (spec.content) checkSourcesOrThrow(spec.content);
    const report = await dryRun(db, campaignRow, spec, renderer, (f) =>
      console.log(`render failed for ${f.email} (recipient ${f.recipientId}): ${f.code}: ${f.message}`),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `dry run of campaign ${id}: ${report.rendered} rendered, ${report.failed} failed, average ${Math.round(report.bytes / Math.max(1, report.rendered) / 1024)} KB per message, ${seconds.toFixed(1)} s; nothing sent or recorded`,
    );
    const { checkedAs, checks } = await dryRunChecks(db, campaignRow, spec, renderer);
    console.log(
      `checks${checkedAs ? ` (the message as rendered for ${checkedAs}, and the whole audience's attributes)` : " (the audience's attributes)"}:${checks.length === 0 ? ' nothing to report' : ''}`,
    );
    for (const check of checks) console.log(`  ${formatCheck(check)}`);
  } finally {
    await renderer.close();
  }
}

function formatShow(
  c: {
    id: number;
    name: string;
    status: string;
    template: string;
    subject: string;
    from: string;
    replyTo: string | null;
    tags: string[];
    startedAt: string | null;
  },
  content: CampaignContentView,
): string {
  const html = content.html.via === 'mjml' ? ' (MJML, compiled once)' : content.html.via === 'inlined' ? ' (CSS inlined once)' : '';
  return [
    `campaign ${c.id} "${c.name}": ${c.status}`,
    `  template: ${c.template}`,
    `  subject: ${c.subject}`,
    `  from: ${c.from}${c.replyTo ? `, reply-to ${c.replyTo}` : ''}`,
    ...(c.tags.length > 0 ? [`  tags: ${c.tags.join(', ')}`] : []),
    content.stored
      ? `  content: ${content.hash} (stored ${content.madeAt} at its first start; the files are not read again)`
      : `  content: not fixed yet; the files make ${content.hash} now (fixed when it starts)`,
    `  html: ${content.html.file}${html}`,
    `  text: ${content.text ?? 'derived from the rendered HTML'}`,
    `  files: ${Object.keys(content.files).length} (--content prints them)`,
  ].join('\n');
}
