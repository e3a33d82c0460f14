import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export interface UnmatchedEvent {
  id: string;
  event: string;
  /** The delivery id the event named, if any. */
  delivery: string | null;
  occurredAt: Date;
  source: string;
  payload: string;
}

/** Keeps events for deliveries Herald does not know aside, once each; returns how many were new. */
export async function insertUnmatchedEvents(db: Kysely<Database>, events: readonly UnmatchedEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const col = <T>(f: (e: UnmatchedEvent) => T): T[] => events.map(f);
  const result = await sql`
    insert into unmatched_events (id, event, delivery, occurred_at, source, payload)
    select * from unnest(
      ${col((e) => e.id)}::text[], ${col((e) => e.event)}::text[], ${col((e) => e.delivery)}::text[],
      ${col((e) => e.occurredAt.toISOString())}::timestamptz[], ${col((e) => e.source)}::text[], ${col((e) => e.payload)}::jsonb[]
    )
    on conflict (id) do nothing
  `.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
