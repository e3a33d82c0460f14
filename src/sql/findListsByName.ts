import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** The ids of the named lists, by name; a name with no list is absent from the map. */
export async function findListsByName(db: Kysely<Database>, names: readonly string[]): Promise<Map<string, number>> {
  if (names.length === 0) return new Map();
  const rows = await db
    .selectFrom('lists')
    .select(['id', 'name'])
    .where('name', 'in', [...names])
    .execute();
  return new Map(rows.map((r) => [r.name, r.id]));
}
