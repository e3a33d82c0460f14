import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface NamedList {
  id: number;
  name: string;
}

/** How a campaign's audience is defined, with names for showing it. */
export interface CampaignAudienceRow {
  include: NamedList[];
  exclude: NamedList[];
  /** The saved segment it names, if any. */
  segment: { id: number; name: string; expression: string } | null;
  /** The ad-hoc --where text, or (once started) the segment expression it was fixed with. */
  whereText: string | null;
  /** Null until the first start fixes the audience. */
  size: number | null;
}

/**
 * A campaign's audience definition. A campaign with no include row (stored before
 * migration 0012 defined them, or written straight into the table) sends to its list_id.
 */
export async function campaignAudience(db: Kysely<Database>, campaignId: number): Promise<CampaignAudienceRow | undefined> {
  const rows = await sql<{
    list_id: number;
    where_text: string | null;
    audience_size: number | null;
    segment_id: number | null;
    segment_name: string | null;
    segment_expression: string | null;
    lists: Array<{ id: number; name: string; role: 'include' | 'exclude' }> | null;
    first_name: string;
  }>`
    select c.list_id, c.where_text, c.audience_size, c.segment_id, s.name as segment_name, s.expression as segment_expression,
      fl.name as first_name,
      (select json_agg(json_build_object('id', cl.list_id, 'name', l.name, 'role', cl.role) order by cl.role, l.name)
       from campaign_lists cl join lists l on l.id = cl.list_id where cl.campaign_id = c.id) as lists
    from campaigns c
    join lists fl on fl.id = c.list_id
    left join segments s on s.id = c.segment_id
    where c.id = ${campaignId}
  `.execute(db);
  const row = rows.rows[0];
  if (!row) return undefined;
  const lists = (row.lists ?? []).map((l) => ({ id: Number(l.id), name: l.name, role: l.role }));
  const include = lists.filter((l) => l.role === 'include').map(({ id, name }) => ({ id, name }));
  return {
    include: include.length > 0 ? include : [{ id: row.list_id, name: row.first_name }],
    exclude: lists.filter((l) => l.role === 'exclude').map(({ id, name }) => ({ id, name })),
    segment: row.segment_id === null ? null : { id: row.segment_id, name: row.segment_name!, expression: row.segment_expression! },
    whereText: row.where_text,
    size: row.audience_size === null ? null : Number(row.audience_size),
  };
}
