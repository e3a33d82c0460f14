import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { parseSegmentOrThrow } from '../domain/audience.js';
import { audienceIds } from './audienceQuery.js';
import { campaignAudience } from './campaignAudience.js';
import { planSegmentQuery } from './planSegmentQuery.js';

/**
 * Fixes a campaign's audience (docs/audience.md): one INSERT … SELECT copies the recipient
 * ids its definition selects now into campaign_audience, and its size goes on the campaign
 * row. Runs inside the transaction that moves the campaign to running, or under the claim's
 * lock of the campaign row: the `audience_size is null` guard makes a second call a no-op, so
 * the audience is fixed once. Only ids past claim_cursor are copied (a campaign already
 * claimed up to there keeps what it has); the size counts the claimed part too. A saved
 * segment's expression is kept in where_text, so the campaign shows what it was sent by.
 * Returns the size, or null when the audience was already fixed.
 */
export async function snapshotAudience(trx: Transaction<Database> | Kysely<Database>, campaignId: number, now: Date): Promise<number | null> {
  if (!trx.isTransaction) throw new Error('snapshotAudience runs inside the transaction that starts the campaign');
  const locked = await sql<{ audience_size: number | null; claim_cursor: number }>`
    select audience_size, claim_cursor from campaigns where id = ${campaignId} for update
  `.execute(trx);
  const row = locked.rows[0];
  if (!row || row.audience_size !== null) return null;
  const def = await campaignAudience(trx, campaignId);
  if (!def) return null;
  const text = def.whereText ?? def.segment?.expression ?? null;
  const label = def.whereText !== null ? `campaign ${campaignId}'s --where` : `segment '${def.segment?.name}'`;
  const segment = text === null ? null : parseSegmentOrThrow(text, label, 'where');
  if (segment !== null) await planSegmentQuery(trx as Transaction<Database>);
  const ids = audienceIds({ include: def.include.map((l) => l.id), exclude: def.exclude.map((l) => l.id), segment, campaignId }, now);
  const inserted = await sql`
    insert into campaign_audience (campaign_id, recipient_id)
    select ${campaignId}::bigint, a.recipient_id from (${ids}) a
    where a.recipient_id > ${row.claim_cursor}
  `.execute(trx);
  const added = Number(inserted.numAffectedRows ?? 0);
  // Rows already claimed (a campaign written straight into the table as running) count too.
  const claimed =
    row.claim_cursor > 0
      ? Number(
          (
            await sql<{ n: number }>`select count(*) as n from deliveries where campaign_id = ${campaignId} and recipient_id <= ${row.claim_cursor}`.execute(
              trx,
            )
          ).rows[0]?.n ?? 0,
        )
      : 0;
  const size = added + claimed;
  await sql`
    update campaigns set audience_size = ${size}, where_text = ${text}, updated_at = now()
    where id = ${campaignId}
  `.execute(trx);
  return size;
}
