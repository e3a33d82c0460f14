import { sql } from 'kysely';
import type { Db } from '../db/connect.js';

/** Recipients with names and product picks, and a few suppressed addresses; returns how many. */
export async function seedDemoList(db: Db, listName: string, stamp: string, count: number): Promise<number> {
  const list = await db.kysely.insertInto('lists').values({ name: listName }).returning('id').executeTakeFirstOrThrow();
  await sql`
    insert into recipients (email, name, attributes)
    select 'reader' || g || '.' || ${stamp} || '@example.com',
           case when g % 10 = 0 then null else (array['Ada','Grace','Linus','Ken','Barbara','Edsger'])[1 + g % 6] || ' ' || g end,
           jsonb_build_object('city', (array['Lisbon','Oslo','Austin','Kyoto'])[1 + g % 4], 'products', case when g % 3 = 0 then 'tent,lantern,boots' else '' end)
    from generate_series(1, ${count}) as g
  `.execute(db.kysely);
  await sql`
    insert into list_members (list_id, recipient_id)
    select ${list.id}, id from recipients where email like ${`%.${stamp}@example.com`}
  `.execute(db.kysely);
  const suppressed = await sql`
    insert into suppressions (email, reason, source)
    select lower(email), 'unsubscribed', 'demo' from recipients
    where email like ${`%.${stamp}@example.com`} and id % 500 = 0
  `.execute(db.kysely);
  return Number(suppressed.numAffectedRows ?? 0);
}
