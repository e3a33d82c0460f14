import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface UnknownDelivery {
  recipientId: number;
  claimedAt: Date | null;
}

export interface UnknownPage {
  rows: UnknownDelivery[];
  /** The database's time of the listing, to full precision (see resolveUnknownAs). */
  listedAt: string;
}

/** Unknown rows of a campaign; with `claimedBefore`, only those claimed before then. */
export async function listUnknown(db: Kysely<Database>, campaignId: number, limit: number, claimedBefore: Date | null = null): Promise<UnknownPage> {
  const result = await sql<{ recipient_id: number; claimed_at: Date | null; listed_at: string }>`
    select recipient_id, claimed_at, now()::text as listed_at from deliveries
    where campaign_id = ${campaignId} and status = 'unknown'
      and (${claimedBefore}::timestamptz is null or claimed_at is null or claimed_at < ${claimedBefore}::timestamptz)
    order by recipient_id
    limit ${limit}
  `.execute(db);
  const listedAt = result.rows[0]?.listed_at ?? new Date().toISOString();
  return { rows: result.rows.map((r) => ({ recipientId: Number(r.recipient_id), claimedAt: r.claimed_at })), listedAt };
}
