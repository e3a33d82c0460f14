import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

/** The ids of the lists with these names (names that are no list are left out). */
export async function findListIds(db: Kysely<Database>, names: readonly string[]): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const rows = await sql<{ id: number; name: string }>`select id, name from lists where name = any(${[...names]}::text[])`.execute(db);
  return new Map(rows.rows.map((r) => [r.name, r.id]));
}
