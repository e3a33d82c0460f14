import { sql, type RawBuilder } from 'kysely';
import type { SegmentAst } from '../domain/segment/index.js';
import { segmentPredicate } from './segmentPredicate.js';

/**
 * Who a campaign (or a preview) is for: the members of any `include` list (everyone when it
 * is null), minus the members of any `exclude` list, filtered by `segment`. Suppressions are
 * not part of it: the claim records a suppressed address as such (docs/audience.md).
 */
export interface AudienceDefinition {
  include: readonly number[] | null;
  exclude: readonly number[];
  segment: SegmentAst | null;
  /** The campaign whose audience this is, if any: it does not count among its own segment's "last K campaigns". */
  campaignId?: number | undefined;
}

/**
 * The one place the audience becomes SQL, used by the snapshot at start, the count preview,
 * dry runs and test sends: a condition over `recipients r`. Every list id and every value of
 * the segment is a bound parameter. `now` anchors the segment's "within N days".
 */
export function audienceCondition(def: AudienceDefinition, now: Date): RawBuilder<boolean> {
  const parts: RawBuilder<unknown>[] = [];
  if (def.include !== null) {
    parts.push(sql`exists (select 1 from list_members m where m.recipient_id = r.id and m.list_id = any(${[...def.include]}::bigint[]))`);
  }
  if (def.exclude.length > 0) {
    parts.push(sql`not exists (select 1 from list_members x where x.recipient_id = r.id and x.list_id = any(${[...def.exclude]}::bigint[]))`);
  }
  if (def.segment) parts.push(sql`(${segmentPredicate(def.segment, now, { campaignId: def.campaignId })})`);
  return parts.length === 0 ? sql<boolean>`true` : sql<boolean>`${sql.join(parts, sql` and `)}`;
}

/**
 * The audience's recipient ids, as `select … as recipient_id`, in id order unless `ordered` is
 * false (a count). A plain audience (lists only, no segment) reads list_members alone; one with
 * a segment reads recipients.
 */
export function audienceIds(def: AudienceDefinition, now: Date, { ordered = true }: { ordered?: boolean } = {}): RawBuilder<{ recipient_id: number }> {
  const order = (column: string): RawBuilder<unknown> => (ordered ? sql`order by ${sql.ref(column)}` : sql``);
  if (def.segment === null && def.include !== null) {
    const excluded =
      def.exclude.length > 0
        ? sql`and not exists (select 1 from list_members x where x.recipient_id = m.recipient_id and x.list_id = any(${[...def.exclude]}::bigint[]))`
        : sql``;
    // One list has each member once (its primary key); several need the duplicates folded.
    if (def.include.length === 1) {
      return sql<{ recipient_id: number }>`
        select m.recipient_id from list_members m
        where m.list_id = ${def.include[0]!} ${excluded}
        ${order('m.recipient_id')}
      `;
    }
    return sql<{ recipient_id: number }>`
      select distinct m.recipient_id from list_members m
      where m.list_id = any(${[...def.include]}::bigint[]) ${excluded}
      ${order('m.recipient_id')}
    `;
  }
  return sql<{ recipient_id: number }>`
    select r.id as recipient_id from recipients r
    where ${audienceCondition(def, now)}
    ${order('r.id')}
  `;
}
