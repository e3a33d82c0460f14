import { sql, type RawBuilder } from 'kysely';
import type { CompareOp, Field, SegmentAst, TextOp, Window } from '../domain/segment/index.js';

export interface SegmentPredicateOptions {
  /**
   * The campaign whose audience this selects: it does not count among "the last K campaigns"
   * (its own started_at may already be set when its audience is taken).
   */
  campaignId?: number | undefined;
}

/**
 * A segment as a boolean SQL expression over the recipients table aliased `r` (docs/segments.md
 * has the meaning of every condition). Everything that came from the expression's text, attribute
 * names included, is a bound parameter; the SQL text is made only of fixed pieces chosen by the
 * tree's node kinds. Every condition is true or false, never null, so `not` is the exact
 * complement. `now` anchors `within N days` and decides which campaigns have started.
 */
export function segmentPredicate(ast: SegmentAst, now: Date, options: SegmentPredicateOptions = {}): RawBuilder<boolean> {
  return compile(ast, { now, campaignId: options.campaignId ?? null });
}

interface Context {
  now: Date;
  campaignId: number | null;
}

const SQL_COMPARE: Record<CompareOp, string> = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

/**
 * What counts as a number in an attribute: decimal digits with an optional sign, point and
 * exponent of at most three digits, spaces around allowed. Everything it accepts casts to
 * numeric without error (`[0-9]`, not `\d`, which may match other scripts' digits, and no
 * hexadecimal or `_` separators, which newer Postgres versions parse); the length bound keeps
 * the cast within numeric's range.
 */
const NUMERIC_TEXT = `'^ *[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]{1,3})? *$'`;

function valueOf(field: Field): RawBuilder<string | null> {
  switch (field.kind) {
    case 'email':
      return sql<string>`r.email`;
    case 'name':
      return sql<string | null>`r.name`;
    case 'attribute':
      return sql<string | null>`(r.attributes ->> ${field.name}::text)`;
  }
}

/** The field as a number, or null when its value is missing or not a number (never a cast error). */
function numberOf(v: RawBuilder<unknown>): RawBuilder<string | null> {
  return sql<string | null>`(case when length(${v}) <= 1000 and ${v} ~ ${sql.raw(NUMERIC_TEXT)} then (${v})::numeric end)`;
}

function lowerIf(ignoreCase: boolean, v: RawBuilder<unknown>): RawBuilder<string | null> {
  return ignoreCase ? sql<string | null>`lower(${v})` : sql<string | null>`${v}`;
}

/** Where the engagement of a recipient is read from: their deliveries' outcomes (src/domain/outcome.ts). */
function activity(event: 'opened' | 'clicked', window: Window, ctx: Context): RawBuilder<boolean> {
  const first = sql.raw(event === 'opened' ? 'seg_o.first_open_at' : 'seg_o.first_click_at');
  const last = sql.raw(event === 'opened' ? 'seg_o.last_open_at' : 'seg_o.last_click_at');
  switch (window.kind) {
    case 'ever':
      return sql`exists (select 1 from delivery_outcomes seg_o where seg_o.recipient_id = r.id and ${first} is not null)`;
    case 'days': {
      const since = new Date(ctx.now.getTime() - window.days * 86_400_000);
      return sql`exists (select 1 from delivery_outcomes seg_o where seg_o.recipient_id = r.id and ${last} >= ${since.toISOString()}::timestamptz)`;
    }
    case 'campaigns':
      return sql`exists (
        select 1 from delivery_outcomes seg_o
        where seg_o.recipient_id = r.id and ${first} is not null
          and seg_o.campaign_id in (${lastCampaigns(window.count, ctx)})
      )`;
  }
}

/** The ids of the K most recently started campaigns as of `now` (not the one the audience is for). */
function lastCampaigns(count: number, ctx: Context): RawBuilder<number> {
  return sql`
    select seg_c.id from campaigns seg_c
    where seg_c.started_at <= ${ctx.now.toISOString()}::timestamptz
      and seg_c.id is distinct from ${ctx.campaignId}::bigint
    order by seg_c.started_at desc, seg_c.id desc
    limit ${count}::int
  `;
}

function bouncedOrComplained(kind: 'bounced' | 'complained'): [RawBuilder<boolean>, RawBuilder<boolean>] {
  const outcome = sql.raw(kind === 'bounced' ? `seg_o.failure_severity = 'permanent'` : 'seg_o.complained_at is not null');
  return [
    sql`exists (select 1 from delivery_outcomes seg_o where seg_o.recipient_id = r.id and ${outcome})`,
    sql`exists (select 1 from suppressions seg_s where seg_s.email = lower(r.email) and seg_s.reason = ${sql.lit(kind)})`,
  ];
}

function textTest(op: TextOp, v: RawBuilder<unknown>, needle: RawBuilder<unknown>): RawBuilder<boolean | null> {
  switch (op) {
    case 'contains':
      return sql`strpos(${v}, ${needle}) > 0`;
    case 'startsWith':
      return sql`starts_with(${v}, ${needle})`;
    case 'endsWith':
      return sql`right(${v}, char_length(${needle})) = ${needle}`;
  }
}

function compile(node: SegmentAst, ctx: Context): RawBuilder<boolean> {
  switch (node.kind) {
    case 'and':
      return sql`(${sql.join(
        node.items.map((item) => compile(item, ctx)),
        sql` and `,
      )})`;
    case 'or':
      return sql`(${sql.join(
        node.items.map((item) => compile(item, ctx)),
        sql` or `,
      )})`;
    case 'not':
      // "not bounced" as two anti-joins rather than the negation of an `or`, which Postgres
      // can only run as subplans.
      if (node.item.kind === 'bounced' || node.item.kind === 'complained') {
        const [outcome, suppression] = bouncedOrComplained(node.item.kind);
        return sql`(not ${outcome} and not ${suppression})`;
      }
      return sql`(not ${compile(node.item, ctx)})`;
    case 'compare': {
      const v = valueOf(node.field);
      const op = sql.raw(SQL_COMPARE[node.op]);
      if (node.value.type === 'number') return sql`coalesce(${numberOf(v)} ${op} ${node.value.value}::numeric, false)`;
      // Orderings of strings are by code point, so ISO dates and times compare as they read.
      const collate = sql.raw(node.op === '=' || node.op === '!=' ? '' : ' collate "C"');
      return sql`coalesce(${lowerIf(node.ignoreCase, v)}${collate} ${op} ${lowerIf(node.ignoreCase, sql`${node.value.value}::text`)}, false)`;
    }
    case 'in': {
      const v = valueOf(node.field);
      const any = sql.raw(node.negated ? '<> all' : '= any');
      if (node.valueType === 'number') return sql`coalesce(${numberOf(v)} ${any} (${node.values}::numeric[]), false)`;
      if (node.ignoreCase) return sql`coalesce(lower(${v}) ${any} (array(select lower(seg_v.v) from unnest(${node.values}::text[]) as seg_v(v))), false)`;
      return sql`coalesce(${v} ${any} (${node.values}::text[]), false)`;
    }
    case 'text': {
      const v = lowerIf(node.ignoreCase, valueOf(node.field));
      const needle = lowerIf(node.ignoreCase, sql`${node.value}::text`);
      const test = textTest(node.op, v, needle);
      return node.negated ? sql`coalesce(not ${test}, false)` : sql`coalesce(${test}, false)`;
    }
    case 'present':
      return node.present ? sql`(coalesce(${valueOf(node.field)}, '') <> '')` : sql`(coalesce(${valueOf(node.field)}, '') = '')`;
    case 'activity':
      return activity(node.event, node.window, ctx);
    case 'bounced':
    case 'complained': {
      const [outcome, suppression] = bouncedOrComplained(node.kind);
      return sql`(${outcome} or ${suppression})`;
    }
    case 'neverSent':
      return sql`not exists (select 1 from deliveries seg_d where seg_d.recipient_id = r.id and seg_d.status = 'sent')`;
  }
}
