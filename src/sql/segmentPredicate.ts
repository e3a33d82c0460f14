import { sql, type RawBuilder } from 'kysely';
import type { CompareOp, Field, SegmentAst, TextOp, Window } from '../domain/segment/index.js';
import { unmarkedSentCampaigns } from './markSentRecipients.js';

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

function fieldValue(field: Field): RawBuilder<string | null> {
  switch (field.kind) {
    case 'email':
      return sql<string>`r.email`;
    case 'name':
      return sql<string | null>`r.name`;
    case 'attribute':
      return sql<string | null>`(r.attributes ->> ${field.name}::text)`;
  }
}

/**
 * The field as a number, or null when its value is missing or not a number (never a cast
 * error). Plain digits, the common case, are recognised by btrim, which costs a fraction of
 * the regular expression that everything else goes through.
 */
function numberOf(v: RawBuilder<unknown>): RawBuilder<string | null> {
  return sql<string | null>`(case
    when length(${v}) <= 1000 and ${v} <> '' and btrim(${v}, '0123456789') = '' then (${v})::numeric
    when length(${v}) <= 1000 and ${v} ~ ${sql.raw(NUMERIC_TEXT)} then (${v})::numeric
  end)`;
}

function lowerIf(ignoreCase: boolean, v: RawBuilder<unknown>): RawBuilder<string | null> {
  return ignoreCase ? sql<string | null>`lower(${v})` : sql<string | null>`${v}`;
}

/**
 * Engagement conditions are sets of recipient ids: "the recipient is in the set" is one
 * `exists`, which Postgres runs as a (hash) semi- or anti-join, or as one hashed lookup per
 * recipient. Several such conditions joined by `or` (or `not A and not B`) become one set, so
 * the recipients are looked up once, and `delivery_outcomes` is read once for all of them.
 */
interface EngagementSet {
  /** Conditions on an outcome row `seg_o`: its recipient is in the set. */
  outcomes: RawBuilder<boolean>[];
  /** Other selects of recipient ids. */
  others: RawBuilder<number>[];
}

function engagementSet(node: SegmentAst, ctx: Context): EngagementSet | null {
  switch (node.kind) {
    case 'activity':
      return { outcomes: [activity(node.event, node.window, ctx)], others: [] };
    case 'bounced':
    case 'complained':
      return bouncedOrComplained(node.kind);
    default:
      return null;
  }
}

function inAnyOf(sets: readonly EngagementSet[]): RawBuilder<boolean> {
  const outcomes = sets.flatMap((s) => s.outcomes);
  const selects = [
    ...(outcomes.length > 0 ? [sql<number>`select seg_o.recipient_id from delivery_outcomes seg_o where ${sql.join(outcomes, sql` or `)}`] : []),
    ...sets.flatMap((s) => s.others),
  ];
  return sql<boolean>`exists (
    select 1 from (${sql.join(selects, sql` union all `)}) seg_e (recipient_id)
    where seg_e.recipient_id = r.id
  )`;
}

/** An open / a click, of the outcome row seg_o (src/domain/outcome.ts), in the window. */
function activity(event: 'opened' | 'clicked', window: Window, ctx: Context): RawBuilder<boolean> {
  const first = sql.raw(event === 'opened' ? 'seg_o.first_open_at' : 'seg_o.first_click_at');
  const last = sql.raw(event === 'opened' ? 'seg_o.last_open_at' : 'seg_o.last_click_at');
  switch (window.kind) {
    case 'ever':
      return sql<boolean>`${first} is not null`;
    case 'days': {
      const since = new Date(ctx.now.getTime() - window.days * 86_400_000);
      return sql<boolean>`${last} >= ${since.toISOString()}::timestamptz`;
    }
    case 'campaigns':
      return sql<boolean>`(${first} is not null and seg_o.campaign_id in (${lastCampaigns(window.count, ctx)}))`;
  }
}

/** The ids of the K most recently started campaigns as of `now` (not the one the audience is for). */
function lastCampaigns(count: number, ctx: Context): RawBuilder<number> {
  return sql<number>`
    select seg_c.id from campaigns seg_c
    where seg_c.started_at <= ${ctx.now.toISOString()}::timestamptz
      and seg_c.id is distinct from ${ctx.campaignId}::bigint
    order by seg_c.started_at desc, seg_c.id desc
    limit ${count}::int
  `;
}

/**
 * Who bounced (or complained): a hard bounce (a complaint) among their outcomes (partial
 * indexes of migration 0011 hold just those rows), or a suppression of their address with that
 * reason. A suppression is matched to its recipient once, through the index on lower(email),
 * rather than by lower-casing every recipient's address.
 */
function bouncedOrComplained(kind: 'bounced' | 'complained'): EngagementSet {
  return {
    outcomes: [sql.raw(kind === 'bounced' ? `seg_o.failure_severity = 'permanent'` : 'seg_o.complained_at is not null')],
    others: [
      sql<number>`select seg_r.id from suppressions seg_s join recipients seg_r on lower(seg_r.email) = seg_s.email where seg_s.reason = ${sql.lit(kind)}`,
    ],
  };
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
    case 'and': {
      // not A and not B = not (A or B): one anti-join for all the engagement among them.
      const sets: EngagementSet[] = [];
      const parts: RawBuilder<boolean>[] = [];
      for (const item of node.items) {
        const set = item.kind === 'not' ? engagementSet(item.item, ctx) : null;
        if (set) sets.push(set);
        else parts.push(compile(item, ctx));
      }
      if (sets.length > 0) parts.push(sql<boolean>`(not ${inAnyOf(sets)})`);
      return parts.length === 1 ? parts[0]! : sql<boolean>`(${sql.join(parts, sql` and `)})`;
    }
    case 'or': {
      const sets: EngagementSet[] = [];
      const parts: RawBuilder<boolean>[] = [];
      for (const item of node.items) {
        const set = engagementSet(item, ctx);
        if (set) sets.push(set);
        else parts.push(compile(item, ctx));
      }
      if (sets.length > 0) parts.unshift(inAnyOf(sets));
      return parts.length === 1 ? parts[0]! : sql<boolean>`(${sql.join(parts, sql` or `)})`;
    }
    case 'not':
      return sql`(not ${compile(node.item, ctx)})`;
    case 'compare': {
      const v = fieldValue(node.field);
      const op = sql.raw(SQL_COMPARE[node.op]);
      if (node.value.type === 'number') return sql`coalesce(${numberOf(v)} ${op} ${node.value.value}::numeric, false)`;
      // Orderings of strings are by code point, so ISO dates and times compare as they read.
      const collate = sql.raw(node.op === '=' || node.op === '!=' ? '' : ' collate "C"');
      return sql`coalesce(${lowerIf(node.ignoreCase, v)}${collate} ${op} ${lowerIf(node.ignoreCase, sql`${node.value.value}::text`)}, false)`;
    }
    case 'in': {
      const v = fieldValue(node.field);
      const any = sql.raw(node.negated ? '<> all' : '= any');
      if (node.valueType === 'number') return sql`coalesce(${numberOf(v)} ${any} (${node.values}::numeric[]), false)`;
      if (node.ignoreCase) return sql`coalesce(lower(${v}) ${any} (array(select lower(seg_v.v) from unnest(${node.values}::text[]) as seg_v(v))), false)`;
      return sql`coalesce(${v} ${any} (${node.values}::text[]), false)`;
    }
    case 'text': {
      const v = lowerIf(node.ignoreCase, fieldValue(node.field));
      const needle = lowerIf(node.ignoreCase, sql`${node.value}::text`);
      const test = textTest(node.op, v, needle);
      return node.negated ? sql`coalesce(not ${test}, false)` : sql`coalesce(${test}, false)`;
    }
    case 'present':
      return node.present ? sql`(coalesce(${fieldValue(node.field)}, '') <> '')` : sql`(coalesce(${fieldValue(node.field)}, '') = '')`;
    case 'activity':
    case 'bounced':
    case 'complained':
      return inAnyOf([engagementSet(node, ctx)!]);
    case 'neverSent':
      // The kept mark, and the sends of the campaigns it does not cover yet (a running one):
      // exact whether or not the marking has caught up (migration 0015). When it covers every
      // campaign (the check runs once), the deliveries are not read at all.
      return sql`(not exists (select 1 from sent_recipients seg_s where seg_s.recipient_id = r.id) and (
        not exists (${unmarkedSentCampaigns()})
        or r.id not in (
          select seg_d.recipient_id from deliveries seg_d
          where seg_d.status = 'sent' and seg_d.campaign_id = any(array(${unmarkedSentCampaigns()}))
        )
      ))`;
  }
}
