import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/** Records that a domain's log is read up to `until` (never moves back). '' is the default domain. */
export async function advanceLogPosition(db: Kysely<Database>, domain: string | null, until: Date): Promise<void> {
  await sql`
    insert into event_log_positions (domain, synced_until) values (${domain ?? ''}, ${until})
    on conflict (domain) do update set synced_until = greatest(event_log_positions.synced_until, excluded.synced_until), updated_at = now()
  `.execute(db);
}
