import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export interface UpsertItem {
  email: string;
  /** undefined: keep the name an existing recipient has. */
  name?: string | null;
  set: Record<string, string>;
  unset: string[];
}

export type UpsertStatus = 'created' | 'updated' | 'unchanged';

/**
 * Creates or updates recipients given as JSON, each address once (docs/http-api.md,
 * "Recipients"): a new address is inserted with its name and attributes; an existing one gets
 * its attributes merged (`set` over what it has, `unset` removed) and its name replaced when
 * one was given. Rows that would not change are not written. Returns each address's id and
 * what happened, keyed by the lower-cased address.
 */
export async function upsertRecipientItems(db: Kysely<Database>, items: readonly UpsertItem[]): Promise<Map<string, { id: number; status: UpsertStatus }>> {
  const out = new Map<string, { id: number; status: UpsertStatus }>();
  if (items.length === 0) return out;
  const inserted = await sql<{ id: number; key: string }>`
    insert into recipients (email, name, attributes)
    select * from unnest(${items.map((i) => i.email)}::text[], ${items.map((i) => i.name ?? null)}::text[], ${items.map((i) => JSON.stringify(i.set))}::jsonb[])
    on conflict ((lower(email))) do nothing
    returning id, lower(email) as key
  `.execute(db);
  for (const r of inserted.rows) out.set(r.key, { id: r.id, status: 'created' });

  const rest = items.filter((i) => !out.has(i.email.toLowerCase()));
  if (rest.length === 0) return out;
  const updated = await sql<{ id: number; key: string }>`
    with wanted as (
      select r.id,
        case when i.has_name then i.name else r.name end as name,
        (r.attributes || i.attrs) - array(select jsonb_array_elements_text(i.unset)) as attributes
      from unnest(
        ${rest.map((i) => i.email.toLowerCase())}::text[], ${rest.map((i) => i.name !== undefined)}::boolean[],
        ${rest.map((i) => i.name ?? null)}::text[], ${rest.map((i) => JSON.stringify(i.set))}::jsonb[], ${rest.map((i) => JSON.stringify(i.unset))}::jsonb[]
      ) as i(key, has_name, name, attrs, unset)
      join recipients r on lower(r.email) = i.key
    )
    update recipients r set name = w.name, attributes = w.attributes, updated_at = now()
    from wanted w
    where r.id = w.id and (r.name is distinct from w.name or r.attributes is distinct from w.attributes)
    returning r.id, lower(r.email) as key
  `.execute(db);
  for (const r of updated.rows) out.set(r.key, { id: r.id, status: 'updated' });

  const unchanged = rest.map((i) => i.email.toLowerCase()).filter((k) => !out.has(k));
  if (unchanged.length > 0) {
    const found = await sql<{ id: number; key: string }>`
      select id, lower(email) as key from recipients where lower(email) = any(${unchanged}::text[])
    `.execute(db);
    for (const r of found.rows) out.set(r.key, { id: r.id, status: 'unchanged' });
  }
  return out;
}
