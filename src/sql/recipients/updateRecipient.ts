import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { emailKey } from '../../domain/email.js';

export interface UpdatedRecipient {
  id: number;
  email: string;
  name: string | null;
  attributes: Record<string, unknown>;
  changed: boolean;
}

/**
 * Merges an attribute change into one recipient: `set` over what it has, `unset` removed, the
 * name replaced when `name` is given (null clears it). An unchanged row is not written.
 * Undefined when no recipient has the address.
 */
export async function updateRecipient(
  db: Kysely<Database>,
  email: string,
  change: { name?: string | null; set: Record<string, string>; unset: string[] },
): Promise<UpdatedRecipient | undefined> {
  const rows = await sql<UpdatedRecipient>`
    with wanted as (
      select id, email,
        case when ${change.name !== undefined} then ${change.name ?? null}::text else name end as name,
        (attributes || ${JSON.stringify(change.set)}::jsonb) - ${change.unset}::text[] as attributes,
        name as old_name, attributes as old_attributes
      from recipients where lower(email) = ${emailKey(email)} and erased_at is null
      for update
    ), written as (
      update recipients r set name = w.name, attributes = w.attributes, updated_at = now()
      from wanted w
      where r.id = w.id and (w.old_name is distinct from w.name or w.old_attributes is distinct from w.attributes)
      returning r.id
    )
    select w.id, w.email, w.name, w.attributes, exists (select 1 from written) as changed from wanted w
  `.execute(db);
  return rows.rows[0];
}
