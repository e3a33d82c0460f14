import type { Db } from '../db/connect.js';
import type { Campaign, CampaignStatus } from '../db/schema.js';
import { campaignProgress } from '../sql/campaignProgress.js';
import { countDeliveries, type StatusCounts } from '../sql/countDeliveries.js';
import { notSentBreakdown } from '../sql/notSentBreakdown.js';
import { campaignFunnel, type FunnelCounts } from '../sql/campaignFunnel.js';
import { audienceView, type AudienceView } from './audience.js';

export interface CampaignStatusReport {
  id: number;
  name: string;
  status: CampaignStatus;
  /** The Mailgun domain it sends through (null: the configured MAILGUN_DOMAIN). */
  domain: string | null;
  /** Why a running campaign is not sending now, and until when (e.g. a reached daily cap). */
  waiting: { reason: string; until: string | null; detail?: string } | null;
  /** Why the campaign paused itself (the provider refused the account); null otherwise. */
  pausedReason: string | null;
  /**
   * Recipients in its audience (suppressed ones included), the total its progress and ETA are
   * measured against; 0 before the start when only a count would tell (audience.size is null).
   */
  listSize: number;
  /** Who it is for: lists, excluded lists, segment or where text, size (docs/audience.md). */
  audience: AudienceView;
  counts: StatusCounts;
  /** Recipients not yet claimed by any worker. */
  unclaimed: number;
  /** Messages per second over about the last minute (from the sampled sent counts). */
  rate: number;
  etaSeconds: number | null;
  workers: Array<{ workerId: string; open: number; heartbeatAt: string | null }>;
  /** Who did not get it: failed per reason, suppressed, skipped, unknown. */
  notSent: Array<{ status: string; reason: string | null; count: number }>;
  startedAt: string | null;
  finishedAt: string | null;
  /** When its per-recipient rows were purged (campaign purge-details); the counts remain. */
  detailsPurgedAt: string | null;
  /** What happened after the provider accepted (docs/operations.md, "Outcomes"). */
  funnel: Funnel;
}

/**
 * The funnel: deliveries the provider accepted, then those with each later fact. Shares are
 * of delivered (opens are inflated by mail privacy proxies that fetch every image; clicks are
 * the reliable signal), to one decimal place; null before anything was delivered.
 */
export interface Funnel {
  accepted: number;
  delivered: number;
  bouncedHard: number;
  bouncedSoft: number;
  opened: number;
  openRate: number | null;
  clicked: number;
  clickRate: number | null;
  complained: number;
  unsubscribed: number;
}

export function funnelOf(accepted: number, f: FunnelCounts): Funnel {
  const share = (n: number): number | null => (f.delivered > 0 ? Math.round((n / f.delivered) * 1000) / 10 : null);
  return {
    accepted,
    delivered: f.delivered,
    bouncedHard: f.bounced_hard,
    bouncedSoft: f.bounced_soft,
    opened: f.opened,
    openRate: share(f.opened),
    clicked: f.clicked,
    clickRate: share(f.clicked),
    complained: f.complained,
    unsubscribed: f.unsubscribed,
  };
}

export async function campaignStatusReport(db: Db, campaign: Campaign): Promise<CampaignStatusReport> {
  const id = campaign.id;
  // One connection, one read after another: each is a few rows of kept counts, and reading
  // them at once would make a command that just started open a connection per read, each new
  // Postgres backend paying its start-up and catalog look-ups, which costs more than the reads.
  const { counts, progress, notSent, funnel, audience } = await db.kysely.connection().execute(async (conn) => ({
    counts: await countDeliveries(conn, id),
    progress: await campaignProgress(conn, id),
    notSent: await notSentBreakdown(conn, id),
    funnel: await campaignFunnel(conn, id),
    audience: await audienceView({ ...db, kysely: conn }, campaign),
  }));
  const size = audience.size ?? 0;
  const recorded = Object.values(counts).reduce((a, b) => a + b, 0);
  const unclaimed = campaign.list_exhausted ? 0 : Math.max(0, size - recorded);
  const open = unclaimed + counts.pending + counts.queued + counts.unknown;
  const rate = sendingRate(counts.sent, progress.sentBefore);
  return {
    id,
    name: campaign.name,
    status: campaign.status,
    domain: campaign.sending_domain,
    waiting:
      campaign.status === 'running' && campaign.waiting_reason
        ? {
            reason: campaign.waiting_reason,
            until: campaign.waiting_until?.toISOString() ?? null,
            ...(campaign.waiting_detail ? { detail: campaign.waiting_detail } : {}),
          }
        : null,
    pausedReason: campaign.status === 'paused' ? campaign.paused_reason : null,
    listSize: size,
    audience,
    counts,
    unclaimed,
    rate,
    etaSeconds: campaign.status === 'running' && rate > 0 ? Math.round(open / rate) : null,
    workers: progress.holders.map((h) => ({ ...h, heartbeatAt: h.heartbeatAt?.toISOString() ?? null })),
    notSent,
    startedAt: campaign.started_at?.toISOString() ?? null,
    finishedAt: campaign.finished_at?.toISOString() ?? null,
    detailsPurgedAt: campaign.details_purged_at?.toISOString() ?? null,
    funnel: funnelOf(counts.sent, funnel),
  };
}

/**
 * Messages per second since the sample of a minute ago (or the oldest, for a younger run),
 * to one decimal. Samples are taken every few seconds while the campaign runs; a sample
 * younger than a second says too little to divide by.
 */
export function sendingRate(sentNow: number, before: { sent: number; secondsAgo: number } | null): number {
  if (!before || before.secondsAgo < 1) return 0;
  return Math.max(0, Math.round(((sentNow - before.sent) / before.secondsAgo) * 10) / 10);
}

export function formatStatus(r: CampaignStatusReport): string {
  const c = r.counts;
  const lines = [
    `campaign ${r.id} "${r.name}": ${r.status}${r.waiting ? ` — ${describeWaiting(r.waiting, r.domain)}` : ''}${r.pausedReason ? ` — paused itself: ${r.pausedReason}` : ''}`,
    `  audience    ${describeAudience(r.audience)}`,
    `  sent        ${c.sent}`,
    `  failed      ${c.failed}`,
    `  suppressed  ${c.suppressed}`,
    `  skipped     ${c.skipped}`,
    `  in flight   ${c.queued}  (claimed by a worker)`,
    `  paused/released ${c.pending}`,
    `  unknown     ${c.unknown}  (may have been accepted: a timeout or a vanished worker; settled by the campaign's --unknown policy)`,
    `  not claimed ${r.unclaimed}`,
    `  rate        ${r.rate}/s over the last minute${r.etaSeconds !== null ? `, ETA ${r.etaSeconds}s` : ''}`,
  ];
  if (r.detailsPurgedAt) lines.push(`  details     purged at ${r.detailsPurgedAt} (counts kept; no report)`);
  const f = r.funnel;
  const pct = (n: number | null): string => (n === null ? '' : `  (${n}% of delivered)`);
  lines.push(
    '  after acceptance:',
    `    accepted     ${f.accepted}`,
    `    delivered    ${f.delivered}`,
    `    bounced      ${f.bouncedHard} hard, ${f.bouncedSoft} soft`,
    `    opened       ${f.opened}${pct(f.openRate)}  (opens count privacy proxies too; clicks are the reliable signal)`,
    `    clicked      ${f.clicked}${pct(f.clickRate)}`,
    `    complained   ${f.complained}`,
    `    unsubscribed ${f.unsubscribed}`,
  );
  for (const w of r.workers) lines.push(`  worker ${w.workerId} holds ${w.open} (heartbeat ${w.heartbeatAt ?? 'gone'})`);
  if (r.notSent.length > 0) {
    lines.push('  not sent:');
    for (const n of r.notSent) lines.push(`    ${String(n.count).padStart(8)}  ${n.status}${n.reason ? ` (${n.reason})` : ''}`);
  }
  return lines.join('\n');
}

/** One line: whom the campaign is for, and how many they are. */
export function describeAudience(a: AudienceView): string {
  const parts = [`list${a.lists.length === 1 ? '' : 's'} ${a.lists.join(', ')}`];
  if (a.excludeLists.length > 0) parts.push(`minus ${a.excludeLists.join(', ')}`);
  if (a.segment !== null) parts.push(`segment ${a.segment}${a.where !== null ? ` (${a.where})` : ''}`);
  else if (a.where !== null) parts.push(`where ${a.where}`);
  const size =
    a.size === null
      ? 'counted when it starts (herald segments count shows it now)'
      : `${a.size} recipient${a.size === 1 ? '' : 's'}${a.fixed ? ', fixed at start' : ''}`;
  return `${parts.join('; ')} — ${size}`;
}

function describeWaiting(waiting: { reason: string; until: string | null; detail?: string }, domain: string | null): string {
  const until = waiting.until ? ` until ${waiting.until}` : '';
  const detail = waiting.detail ? ` (last error: ${waiting.detail})` : '';
  if (waiting.reason === 'daily_cap') return `waiting: daily cap of ${domain ?? 'its sending domain'} reached; continues${until}`;
  if (waiting.reason === 'provider_unavailable') return `holding: the provider is not answering${detail}; probing it, sending resumes by itself`;
  if (waiting.reason === 'rate_limiter_unavailable') return `holding: no rate-limit permits from Redis (REDIS_URL)${detail}; resumes when it answers`;
  return `waiting (${waiting.reason})${detail}${until}`;
}
