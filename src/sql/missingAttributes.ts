import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Which of `names` no recipient has as an attribute (a segment naming one matches nobody on it). */
export async function missingAttributes(db: Kysely<Database>, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const rows = await sql<{ name: string }>`
    select k.name from unnest(${[...names]}::text[]) with ordinality as k(name, n)
    where not exists (select 1 from recipients r where jsonb_exists(r.attributes, k.name))
    order by k.n
  `.execute(db);
  return rows.rows.map((r) => r.name);
}
