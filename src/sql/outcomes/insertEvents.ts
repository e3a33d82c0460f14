import { sql, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';

export interface StoredEvent {
  id: string;
  campaignId: number;
  recipientId: number;
  event: string;
  severity: string | null;
  reason: string | null;
  url: string | null;
  occurredAt: Date;
  payload: string;
}

/** Stores events once by their provider id; returns the ids that were new. */
export async function insertEvents(trx: Transaction<Database>, events: readonly StoredEvent[]): Promise<Set<string>> {
  if (events.length === 0) return new Set();
  const col = <T>(f: (e: StoredEvent) => T): T[] => events.map(f);
  const rows = await sql<{ id: string }>`
    insert into delivery_events (id, campaign_id, recipient_id, event, severity, reason, url, occurred_at, payload)
    select * from unnest(
      ${col((e) => e.id)}::text[], ${col((e) => e.campaignId)}::bigint[], ${col((e) => e.recipientId)}::bigint[],
      ${col((e) => e.event)}::text[], ${col((e) => e.severity)}::text[], ${col((e) => e.reason)}::text[], ${col((e) => e.url)}::text[],
      ${col((e) => e.occurredAt.toISOString())}::timestamptz[], ${col((e) => e.payload)}::jsonb[]
    )
    on conflict (id) do nothing
    returning id
  `.execute(trx);
  return new Set(rows.rows.map((r) => r.id));
}
