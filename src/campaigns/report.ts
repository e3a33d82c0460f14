import { stringify } from 'csv-stringify';
import type { Db } from '../db/connect.js';
import { campaignReportPages } from '../sql/campaignReport.js';

export type ReportFormat = 'csv' | 'jsonl';

/**
 * Streams one row per recipient (email, status, attempts, provider id, error, sent_at) to
 * `out` as CSV or JSON lines, waiting for 'drain' when `out` is full so memory stays flat
 * however large the campaign. `herald campaign report` writes to stdout, the API to the HTTP
 * response; both stop reading the database when the reader goes away.
 */
export async function writeReport(db: Db, id: number, format: ReportFormat, out: NodeJS.WritableStream): Promise<void> {
  // The reader may go away early (`report ID | head`): stop reading the database then and end
  // quietly, as Unix tools do on EPIPE, instead of waiting for a 'drain' that never comes.
  let gone = false;
  let wake: (() => void) | null = null;
  const onGone = (): void => {
    gone = true;
    wake?.();
  };
  out.once('error', onGone);
  out.once('close', onGone);
  const drained = (): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
      out.once('drain', () => resolve());
    });
  const write = (chunk: string): Promise<void> | void => {
    if (gone) return;
    if (!out.write(chunk)) return drained();
  };
  try {
    const csv =
      format === 'csv' ? stringify({ header: true, columns: ['email', 'status', 'attempts', 'provider_id', 'error_code', 'error_message', 'sent_at'] }) : null;
    let pending: Promise<void> | undefined;
    if (csv) csv.on('data', (chunk: Buffer) => (pending = write(chunk.toString()) || undefined));
    for await (const page of campaignReportPages(db.kysely, id)) {
      for (const r of page) {
        if (gone) break;
        const row = {
          email: r.email,
          status: r.status,
          attempts: r.attempts,
          provider_id: r.providerId,
          error_code: r.errorCode,
          error_message: r.errorMessage,
          sent_at: r.sentAt?.toISOString() ?? null,
        };
        if (csv) {
          csv.write(row);
          await pending;
        } else {
          await write(`${JSON.stringify(row)}\n`);
        }
      }
    }
    if (csv && !gone) await new Promise<void>((resolve) => csv.end(resolve));
  } finally {
    out.off('error', onGone);
    out.off('close', onGone);
    // Later writes to a closed stdout (console.log) must not crash the process either.
    if (gone) out.on('error', () => undefined);
  }
}
