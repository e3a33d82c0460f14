/**
 * The history of the scale benchmark (scale.ts), generated in SQL after the recipients have
 * been imported: small segment lists, a list of every tenth recipient, and 100 campaigns with
 * their deliveries. Plain INSERT … SELECT statements of at most ~1M rows each, so whatever
 * triggers and constraints the migrations put on the tables run as they would for Herald.
 */
import type pg from 'pg';

/** Names the benchmark gives its lists and campaigns; --reuse finds them by these. */
export const BIG_LIST = 'everyone';
export const TENTH_LIST = 'every-tenth';
export const BIG_CAMPAIGN = 'Scale: everyone (running)';
export const TENTH_CAMPAIGN = 'Scale: every tenth (finished)';
export const SMALL_CAMPAIGN_PREFIX = 'Scale: segment newsletter';
/** Sizes of the segment lists the 98 small campaigns go to (capped at the number of recipients). */
const SEGMENT_SIZES = [1000, 2000, 5000, 8000, 10_000];
const SMALL_CAMPAIGNS = 98;
/** Rows per INSERT … SELECT: no single transaction is huge. */
const CHUNK_ROWS = 1_000_000;

export interface GeneratedData {
  bigCampaign: number;
  tenthCampaign: number;
  /** The newest small campaign (10,000 deliveries, or fewer when there are fewer recipients). */
  smallCampaign: number;
  deliveries: number;
  listMembers: number;
  /** Seconds per phase. */
  phases: Array<{ name: string; seconds: number }>;
}

/**
 * Outcomes by a hash of (campaign, recipient), out of 10,000: sent 93.9%, failed 3% (five
 * error codes), suppressed 2%, skipped 0.5%; in the running campaign also unknown 0.3% and
 * pending (released) 0.3%, which a finished campaign has sent instead.
 */
const DELIVERIES_SQL = `
  insert into deliveries (campaign_id, recipient_id, status, attempts, provider_id, error_code, error_message, worker_id, claimed_at, sent_at, updated_at)
  select $1::bigint, m.recipient_id, o.status,
    case when o.status in ('sent', 'failed', 'unknown', 'skipped') then 1 + (o.h % 23 = 0)::int else 0 end,
    case when o.status = 'sent'
      then '<' || to_char(o.t at time zone 'UTC', 'YYYYMMDDHH24MISS') || '.' || lpad(to_hex(o.h), 4, '0') || lpad(to_hex(hashint8(m.recipient_id)), 8, '0') || '@bench.herald.test>' end,
    case o.status
      when 'failed' then (array['http_400', 'http_400', 'http_400', 'http_404', 'render_error', 'http_503'])[1 + o.h % 6]
      when 'unknown' then 'timeout' end,
    case o.status
      when 'failed' then (array[
        '''to'' parameter is not a valid address. please check documentation',
        '''to'' parameter is not a valid address. please check documentation',
        'to parameter contains an invalid domain',
        'Domain not found: bench.herald.test',
        'template: undefined variable ''products'' in html.njk line 41',
        'Service Unavailable (after 5 attempts)'])[1 + o.h % 6]
      when 'unknown' then 'no answer within 30000 ms' end,
    case when o.status <> 'pending' then 'worker-' || (m.recipient_id / 5000 % 3) end,
    case when o.status <> 'pending' then o.t - interval '2 seconds' end,
    case when o.status = 'sent' then o.t end,
    coalesce(o.t, now())
  from list_members m
  cross join lateral (
    select (hashint8(m.recipient_id # ($1::bigint * 7919)) & 2147483647) % 10000 as h,
      to_timestamp($5::float8 + $6::float8 * (m.recipient_id - $7::bigint) / greatest(1, $8::bigint - $7::bigint)) as t
  ) x
  cross join lateral (
    select x.h, case when x.status = 'pending' then null else x.t end as t, x.status
    from (select x.h, x.t, case
      when x.h < 9390 then 'sent' when x.h < 9690 then 'failed' when x.h < 9890 then 'suppressed' when x.h < 9940 then 'skipped'
      when not $4::boolean then 'sent' when x.h < 9970 then 'unknown' else 'pending' end as status) x
  ) o
  where m.list_id = $2::bigint and m.recipient_id >= $3::bigint and m.recipient_id < $9::bigint
`;

async function timed<T>(phases: GeneratedData['phases'], name: string, fn: () => Promise<T>, log: (line: string) => void): Promise<T> {
  const started = performance.now();
  const result = await fn();
  const seconds = (performance.now() - started) / 1000;
  phases.push({ name, seconds });
  log(`  ${name}: ${seconds.toFixed(1)} s`);
  return result;
}

/** Generates the lists, campaigns and deliveries; the recipients and the list BIG_LIST exist. */
export async function generateHistory(client: pg.Client, log: (line: string) => void): Promise<GeneratedData> {
  const phases: GeneratedData['phases'] = [];
  const range = (await client.query<{ lo: string; hi: string; n: string }>('select min(id) as lo, max(id) as hi, count(*) as n from recipients')).rows[0]!;
  const minId = Number(range.lo);
  const maxId = Number(range.hi);
  const recipients = Number(range.n);
  const bigList = Number((await client.query<{ id: string }>('select id from lists where name = $1', [BIG_LIST])).rows[0]!.id);
  let listMembers = recipients;

  const createList = async (name: string): Promise<number> =>
    Number((await client.query<{ id: string }>('insert into lists (name) values ($1) returning id', [name])).rows[0]!.id);

  // Segments: every step-th recipient, so a segment is spread over the whole id range.
  const segments = await timed(
    phases,
    'segment lists and the every-tenth list',
    async () => {
      const lists: Array<{ id: number; size: number }> = [];
      for (const [k, wanted] of SEGMENT_SIZES.entries()) {
        const size = Math.min(wanted, recipients);
        const step = Math.max(1, Math.floor(recipients / size));
        const id = await createList(`segment-${size}`);
        const added = await client.query(
          `insert into list_members (list_id, recipient_id)
           select $1::bigint, r.id from generate_series(0, $2::bigint - 1) i join recipients r on r.id = $3::bigint + ($4::bigint + i * $5::bigint) % ($6::bigint + 1)`,
          [id, size, minId, k, step, maxId - minId],
        );
        listMembers += added.rowCount ?? 0;
        lists.push({ id, size: added.rowCount ?? 0 });
      }
      const tenth = await createList(TENTH_LIST);
      const added = await client.query('insert into list_members (list_id, recipient_id) select $1::bigint, id from recipients where id % 10 = 3', [tenth]);
      listMembers += added.rowCount ?? 0;
      return { lists, tenth };
    },
    log,
  );

  const DAY = 86_400;
  const now = Date.now() / 1000;
  const insertCampaign = async (name: string, listId: number, status: string, startedAt: number, finishedAt: number | null): Promise<number> =>
    Number(
      (
        await client.query<{ id: string }>(
          `insert into campaigns (name, list_id, template, subject, from_address, tags, status, list_exhausted, claim_cursor, created_at, started_at, finished_at, updated_at)
           values ($1, $2, 'spring-sale', 'Spring sale for {{ name }}', 'Shop <news@bench.herald.test>', '{newsletter}', $3, true, $4,
                   to_timestamp($5::float8 - 3600), to_timestamp($5::float8), to_timestamp($6::float8), coalesce(to_timestamp($6::float8), now()))
           returning id`,
          [name, listId, status, maxId, startedAt, finishedAt],
        )
      ).rows[0]!.id,
    );
  let deliveries = 0;
  /** One campaign's deliveries, in chunks of about CHUNK_ROWS rows by recipient id range. */
  const insertDeliveries = async (
    campaignId: number,
    listId: number,
    listSize: number,
    running: boolean,
    startedAt: number,
    seconds: number,
  ): Promise<void> => {
    const chunks = Math.max(1, Math.ceil(listSize / CHUNK_ROWS));
    const width = Math.ceil((maxId - minId + 1) / chunks);
    for (let c = 0; c < chunks; c++) {
      const lo = minId + c * width;
      const r = await client.query(DELIVERIES_SQL, [campaignId, listId, lo, running, startedAt, seconds, minId, maxId, lo + width]);
      deliveries += r.rowCount ?? 0;
      if (chunks > 1) log(`    campaign ${campaignId}: chunk ${c + 1}/${chunks}, ${(r.rowCount ?? 0).toLocaleString('en')} rows`);
    }
  };

  // 98 finished newsletters to the segments, one every two days (oldest first: ids in time order).
  let smallCampaign = 0;
  await timed(
    phases,
    `${SMALL_CAMPAIGNS} small campaigns (1k–10k deliveries each)`,
    async () => {
      for (let g = 1; g <= SMALL_CAMPAIGNS; g++) {
        const seg = segments.lists[g % segments.lists.length]!;
        const startedAt = now - (2 * (SMALL_CAMPAIGNS - g) + 4) * DAY;
        const seconds = seg.size / 3000;
        const id = await insertCampaign(`${SMALL_CAMPAIGN_PREFIX} #${g} (${seg.size})`, seg.id, 'finished', startedAt, startedAt + seconds + 60);
        await insertDeliveries(id, seg.id, seg.size, false, startedAt, seconds);
        if (seg.size === Math.max(...segments.lists.map((s) => s.size))) smallCampaign = id;
      }
    },
    log,
  );
  const tenthSize = Math.round(recipients / 10);
  const tenthCampaign = await timed(
    phases,
    `the every-tenth campaign (${tenthSize.toLocaleString('en')} deliveries)`,
    async () => {
      const startedAt = now - 2 * DAY;
      const seconds = tenthSize / 4000;
      const id = await insertCampaign(TENTH_CAMPAIGN, segments.tenth, 'finished', startedAt, startedAt + seconds + 60);
      await insertDeliveries(id, segments.tenth, tenthSize, false, startedAt, seconds);
      return id;
    },
    log,
  );
  // The newest: running, every recipient claimed (list exhausted), the last sent just now.
  const bigCampaign = await timed(
    phases,
    `the everyone campaign (${recipients.toLocaleString('en')} deliveries)`,
    async () => {
      const seconds = recipients / 4000;
      const id = await insertCampaign(BIG_CAMPAIGN, bigList, 'running', now - seconds, null);
      await insertDeliveries(id, bigList, recipients, true, now - seconds, seconds);
      return id;
    },
    log,
  );
  return { bigCampaign, tenthCampaign, smallCampaign, deliveries, listMembers, phases };
}
