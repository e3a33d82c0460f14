import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.js';
import { insertCampaign } from '../../src/sql/insertCampaign.js';

/** A list of `count` recipients `user{i}@example.test`; returns the list id and recipient ids. */
export async function seedList(
  db: Kysely<Database>,
  name: string,
  count: number,
  attributes: Record<string, unknown> = {},
): Promise<{ listId: number; recipientIds: number[] }> {
  const list = await db.insertInto('lists').values({ name }).returning('id').executeTakeFirstOrThrow();
  const ids: number[] = [];
  for (let start = 1; start <= count; start += 2000) {
    const end = Math.min(count, start + 1999);
    const rows = await sql<{ id: number }>`
      insert into recipients (email, name, attributes)
      select ${name} || '-user' || g || '@example.test', 'User ' || g, ${JSON.stringify(attributes)}::jsonb
      from generate_series(${start}::int, ${end}::int) as g
      returning id
    `.execute(db);
    ids.push(...rows.rows.map((r) => r.id));
  }
  await sql`insert into list_members (list_id, recipient_id) select ${list.id}, unnest(${ids}::bigint[])`.execute(db);
  return { listId: list.id, recipientIds: ids };
}

export async function seedCampaign(
  db: Kysely<Database>,
  listId: number,
  overrides: Partial<{
    template: string;
    subject: string;
    status: 'draft' | 'running';
    rate: number | null;
    unknownPolicy: 'reconcile' | 'resend' | 'skip';
    domain: string;
  }> = {},
): Promise<number> {
  return insertCampaign(db, {
    name: 'test campaign',
    list_id: listId,
    template: overrides.template ?? 'spring-sale',
    subject: overrides.subject ?? 'Hello {{ name }}',
    from_address: 'Herald Test <news@example.test>',
    reply_to: null,
    tags: ['test'],
    status: overrides.status ?? 'running',
    rate_per_second: overrides.rate ?? null,
    max_concurrency: null,
    unknown_policy: overrides.unknownPolicy ?? 'reconcile',
    sending_domain: overrides.domain ?? null,
    scheduled_at: null,
    started_at: null,
    finished_at: null,
  });
}
