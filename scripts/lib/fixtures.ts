import { sql } from 'kysely';
import type { Db } from '../../src/db/connect.js';

/**
 * The send benchmarks' recipients: `count` readers generated in SQL, with the city and
 * products attributes the spring-sale and product-news templates read (a third of them with
 * six products). Ids run from 1 to count on a fresh database.
 */
export async function insertBenchRecipients(db: Db, count: number): Promise<void> {
  await sql`
    insert into recipients (email, name, attributes)
    select 'reader' || g || '@example' || (g % 97) || '.com', 'Reader ' || g,
           jsonb_build_object('city', 'City ' || (g % 500), 'products', case when g % 3 = 0 then 'tent,lantern,boots,pack,stove,jacket' else '' end)
    from generate_series(1, ${count}::int) g
  `.execute(db.kysely);
}

/**
 * A list `bench` of `count` such recipients, vacuumed and checkpointed: a list is not
 * bulk-loaded seconds before its campaign, so neither autovacuum of the fixture tables nor the
 * checkpoint of their load runs during the measured phase. Returns the list's id.
 */
export async function benchList(db: Db, count: number): Promise<number> {
  await insertBenchRecipients(db, count);
  const list = await db.kysely.insertInto('lists').values({ name: 'bench' }).returning('id').executeTakeFirstOrThrow();
  await sql`insert into list_members (list_id, recipient_id) select ${list.id}, id from recipients`.execute(db.kysely);
  await sql`vacuum analyze`.execute(db.kysely);
  await sql`checkpoint`.execute(db.kysely);
  return list.id;
}
