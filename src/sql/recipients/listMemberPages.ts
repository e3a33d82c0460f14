import { sql, type Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { planKeyRangePages } from '../planKeyLookups.js';

export interface MemberRow {
  id: number;
  email: string;
  name: string | null;
  attributes: Record<string, unknown>;
}

/**
 * A list's members in recipient order, one keyset page at a time, each page in its own short
 * transaction (a long export holds no snapshot), read through the list_members primary key
 * from the cursor on, each member's row by the recipients primary key (as campaignReportPages
 * does, for the same reason: every page costs the same wherever it starts).
 */
export async function* listMemberPages(db: Kysely<Database>, listId: number, pageSize = 2000): AsyncGenerator<MemberRow[]> {
  let after = 0;
  for (;;) {
    const rows = await db.transaction().execute(async (trx) => {
      await planKeyRangePages(trx);
      return (
        await sql<MemberRow>`
          select r.id, r.email, r.name, r.attributes
          from (
            select recipient_id from list_members where list_id = ${listId} and recipient_id > ${after} order by recipient_id limit ${pageSize}
          ) m
          join lateral (select id, email, name, attributes from recipients r where r.id = m.recipient_id limit 1) r on true
          order by r.id
        `.execute(trx)
      ).rows;
    });
    if (rows.length > 0) yield rows;
    if (rows.length < pageSize) return;
    after = rows[rows.length - 1]!.id;
  }
}
