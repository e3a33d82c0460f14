import type { Db } from '../db/connect.js';
import { campaignReportPages, type ReportRow } from '../sql/campaignReport.js';
import { campaignContentHash } from '../sql/campaignContentHash.js';
import { writeChunks } from './writeChunks.js';

export type ReportFormat = 'csv' | 'jsonl';

/**
 * The send state, then what happened after acceptance (docs/operations.md, "Outcomes"):
 * outcome is accepted / delivered / bounced_hard / bounced_soft for a sent message (empty
 * otherwise); opens and clicks count every event, first_* are the earliest. content_hash names
 * the campaign's content, the same on every row (docs/architecture.md, "A campaign's content");
 * empty before its first start.
 */
export const REPORT_COLUMNS = [
  'email',
  'status',
  'attempts',
  'provider_id',
  'error_code',
  'error_message',
  'sent_at',
  'outcome',
  'delivered_at',
  'failure_severity',
  'failure_reason',
  'failure_code',
  'first_open_at',
  'opens',
  'first_click_at',
  'clicks',
  'complained_at',
  'unsubscribed_at',
  'content_hash',
];

const iso = (d: Date | null): string | null => d?.toISOString() ?? null;
const outcomeOf = (r: ReportRow): string | null => (r.status === 'sent' ? (r.standing ?? 'accepted') : null);

function rowObject(r: ReportRow, hash: string | null): Record<string, string | number | null> {
  return {
    email: r.email,
    status: r.status,
    attempts: r.attempts,
    provider_id: r.providerId,
    error_code: r.errorCode,
    error_message: r.errorMessage,
    sent_at: iso(r.sentAt),
    outcome: outcomeOf(r),
    delivered_at: iso(r.deliveredAt),
    failure_severity: r.failureSeverity,
    failure_reason: r.failureReason,
    failure_code: r.failureCode,
    first_open_at: iso(r.firstOpenAt),
    opens: r.opens ?? 0,
    first_click_at: iso(r.firstClickAt),
    clicks: r.clicks ?? 0,
    complained_at: iso(r.complainedAt),
    unsubscribed_at: iso(r.unsubscribedAt),
    content_hash: hash,
  };
}

/**
 * CSV by hand, one string per page: the same bytes as csv-stringify with its defaults (a field
 * holding a comma, a double quote, CR or LF is quoted with its quotes doubled; null and '' are
 * empty; nothing is done to a leading = + - @), at a fraction of its CPU per row, which on the
 * report's hot path was the larger part of Node's share (BENCHMARKS.md, "Why these hand-written
 * parts"). test/campaign-report.test.ts compares the two.
 */
const NEEDS_QUOTES = /[",\r\n]/;
function csvField(value: string | null): string {
  if (value === null) return '';
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function csvPage(page: ReportRow[], hash: string | null): string {
  // A hash is hex: never quoted.
  const tail = hash ?? '';
  let out = '';
  for (const r of page) {
    out += `${csvField(r.email)},${r.status},${r.attempts},${csvField(r.providerId)},${csvField(r.errorCode)},${csvField(r.errorMessage)},${r.sentAt?.toISOString() ?? ''},${outcomeOf(r) ?? ''},${r.deliveredAt?.toISOString() ?? ''},${r.failureSeverity ?? ''},${csvField(r.failureReason)},${r.failureCode ?? ''},${r.firstOpenAt?.toISOString() ?? ''},${r.opens ?? 0},${r.firstClickAt?.toISOString() ?? ''},${r.clicks ?? 0},${r.complainedAt?.toISOString() ?? ''},${r.unsubscribedAt?.toISOString() ?? ''},${tail}\n`;
  }
  return out;
}

function jsonlPage(page: ReportRow[], hash: string | null): string {
  let out = '';
  for (const r of page) out += `${JSON.stringify(rowObject(r, hash))}\n`;
  return out;
}

/**
 * Streams one row per recipient (send state and outcome, REPORT_COLUMNS) to
 * `out` as CSV or JSON lines, waiting for 'drain' when `out` is full so memory stays flat
 * however large the campaign. `herald campaign report` writes to stdout, the API to the HTTP
 * response; both stop reading the database when the reader goes away.
 */
export async function writeReport(db: Db, id: number, format: ReportFormat, out: NodeJS.WritableStream): Promise<void> {
  await writeChunks(out, reportChunks(db, id, format));
}

async function* reportChunks(db: Db, id: number, format: ReportFormat): AsyncGenerator<string> {
  const hash = await campaignContentHash(db.kysely, id);
  if (format === 'csv') yield `${REPORT_COLUMNS.join(',')}\n`;
  // One write per page: a write per row cost a system call per row on stdout.
  for await (const page of campaignReportPages(db.kysely, id)) yield format === 'csv' ? csvPage(page, hash) : jsonlPage(page, hash);
}
