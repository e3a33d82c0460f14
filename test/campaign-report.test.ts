import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'csv-stringify/sync';
import { sql } from 'kysely';
import { REPORT_COLUMNS, writeReport } from '../src/campaigns/report.js';
import { campaignReportPages, reportPage } from '../src/sql/campaignReport.js';
import { planKeyRangePages } from '../src/sql/planKeyLookups.js';
import { templatesDir } from '../src/config/paths.js';
import { buildContent } from '../src/sender/render/content.js';
import { storeCampaignContent } from '../src/sql/storeCampaignContent.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';

/** Values a CSV writer must quote (or must not), in the columns that take free text. */
const AWKWARD = ['a,b', 'say "hi"', 'two\nlines', 'carriage\rreturn', 'crlf\r\n', '', ' padded ', '=1+2', '-3', '@x', 'ünïcödé ✓', '"', ',', null];

async function collect(run: (out: Writable) => Promise<void>): Promise<string> {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  await run(out);
  return Buffer.concat(chunks).toString('utf8');
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

describe(`campaign report (${dbLabel})`, () => {
  let db: TestDb;
  let campaignA: number;
  let campaignB: number;
  let listId: number;
  before(async () => {
    db = await openTestDb();
    // Stale statistics, as on a deliveries table that grew during a run: never analysed.
    await sql`alter table recipients set (autovacuum_enabled = off)`.execute(db.kysely);
    await sql`alter table deliveries set (autovacuum_enabled = off)`.execute(db.kysely);
    listId = (await db.kysely.insertInto('lists').values({ name: 'report' }).returning('id').executeTakeFirstOrThrow()).id;
    await sql`
      insert into recipients (email, name)
      select 'reader' || g || '@example.test', 'Reader ' || g from generate_series(1, 6000) g
    `.execute(db.kysely);
    const campaign = async (name: string): Promise<number> =>
      (
        await db.kysely
          .insertInto('campaigns')
          .values({ name, list_id: listId, template: 'spring-sale', subject: 'Hi', from_address: 'shop@example.test', status: 'finished' })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
    campaignA = await campaign('a');
    campaignB = await campaign('b');
    // A has recipients 1, 2, 4, 5, 7 … and every one above 5000; B has 1, 3, 5 … up to 5000: the
    // two interleave, A's ids have gaps, and some recipients are in both.
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts, provider_id, sent_at)
      select ${campaignA}, g, 'sent', 1, '<' || g || '@mg.test>', timestamptz '2026-01-02 03:04:05.678+00' + g * interval '1 second'
      from generate_series(1, 6000) g where g % 3 <> 0 or g > 5000
    `.execute(db.kysely);
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts)
      select ${campaignB}, g, 'pending', 0 from generate_series(1, 5000, 2) g
    `.execute(db.kysely);
    // Failed rows whose free text needs (or must not get) quoting, in A and in B.
    for (const [i, text] of AWKWARD.entries()) {
      const recipientId = 4001 + i * 3;
      await db.kysely
        .updateTable('recipients')
        .set({ email: `${text ?? 'null'}${i}@example.test` })
        .where('id', '=', recipientId)
        .execute();
      await db.kysely
        .updateTable('deliveries')
        .set({ status: 'failed', attempts: 3, provider_id: null, sent_at: null, error_code: text, error_message: text })
        .where('recipient_id', '=', recipientId)
        .execute();
    }
  });
  after(() => db?.dispose());

  it('reports every delivery of one campaign once, in recipient order, whatever the page size', async () => {
    const expected = await db.kysely.selectFrom('deliveries').select('recipient_id').where('campaign_id', '=', campaignA).orderBy('recipient_id').execute();
    assert.equal(expected.length, 4334);
    for (const pageSize of [97, 1000, 4334, 5000]) {
      const ids: number[] = [];
      for await (const page of campaignReportPages(db.kysely, campaignA, pageSize)) {
        assert.ok(page.length > 0 && page.length <= pageSize, `a page of ${page.length} rows with pages of ${pageSize}`);
        ids.push(...page.map((r) => r.recipientId));
      }
      assert.deepEqual(
        ids,
        expected.map((r) => r.recipient_id),
        `pages of ${pageSize}`,
      );
    }
  });

  it('writes the same CSV as csv-stringify and the same JSON lines as JSON.stringify, awkward values included', async () => {
    // The campaign's content, as its first start stores it: its hash ends every row.
    const content = await buildContent(templatesDir(), 'spring-sale', 'Hi {{ name }}');
    await storeCampaignContent(db.kysely, campaignA, content);
    const rows = await db.kysely
      .selectFrom('deliveries as d')
      .innerJoin('recipients as r', 'r.id', 'd.recipient_id')
      .select(['r.email', 'd.status', 'd.attempts', 'd.provider_id', 'd.error_code', 'd.error_message', 'd.sent_at'])
      .where('d.campaign_id', '=', campaignA)
      .orderBy('d.recipient_id')
      .execute();
    const objects = rows.map((r) => ({
      ...r,
      sent_at: r.sent_at?.toISOString() ?? null,
      outcome: r.status === 'sent' ? 'accepted' : null,
      delivered_at: null,
      failure_severity: null,
      failure_reason: null,
      failure_code: null,
      first_open_at: null,
      opens: 0,
      first_click_at: null,
      clicks: 0,
      complained_at: null,
      unsubscribed_at: null,
      content_hash: content.hash,
    }));
    assert.ok(objects.some((o) => o.error_message === 'two\nlines'));
    const csv = await collect((out) => writeReport(db, campaignA, 'csv', out));
    assert.equal(csv, stringify(objects, { header: true, columns: REPORT_COLUMNS }));
    const jsonl = await collect((out) => writeReport(db, campaignA, 'jsonl', out));
    assert.equal(jsonl, objects.map((o) => `${JSON.stringify(o)}\n`).join(''));

    const empty = (
      await db.kysely
        .insertInto('campaigns')
        .values({ name: 'empty', list_id: listId, template: 't', subject: 's', from_address: 'f@example.test' })
        .returning('id')
        .executeTakeFirstOrThrow()
    ).id;
    assert.equal(await collect((out) => writeReport(db, empty, 'csv', out)), `${REPORT_COLUMNS.join(',')}\n`);
    assert.equal(await collect((out) => writeReport(db, empty, 'jsonl', out)), '');
  });

  it('reads each page through both primary keys and touches only its own rows, with statistics stale and after ANALYZE', async () => {
    const pageSize = 500;
    const check = async (statistics: string): Promise<void> => {
      // A page from the start and one from the middle must do the same work.
      for (const afterId of [0, 3000]) {
        const plan = await db.kysely.transaction().execute(async (trx) => {
          await planKeyRangePages(trx);
          const explained = await reportPage(trx, campaignA, afterId, pageSize).explain('json', sql`analyze`);
          return (explained[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan;
        });
        const nodes = nodesOf(plan);
        const where = `${statistics}, page after ${afterId}: ${nodes.map((n) => `${n['Node Type']}${n['Index Name'] ? ` ${n['Index Name']}` : ''}`).join(' > ')}`;
        for (const bad of ['Merge Join', 'Hash Join', 'Hash', 'Seq Scan', 'Bitmap Heap Scan', 'Sort', 'Gather', 'Gather Merge', 'Materialize']) {
          assert.ok(!nodes.some((n) => n['Node Type'] === bad), `${bad} in ${where}`);
        }
        const scans = nodes.filter((n) => n['Relation Name'] !== undefined);
        assert.deepEqual(
          scans.map((n) => [n['Node Type'], n['Index Name']]),
          [
            ['Index Scan', 'deliveries_pkey'],
            ['Index Scan', 'delivery_outcomes_pkey'],
            ['Index Scan', 'recipients_pkey'],
          ],
          where,
        );
        // What each scan read: the page's deliveries, and one recipient per row; one outcome
        // probe per row (these deliveries have had no provider events, so it finds none).
        for (const scan of scans) {
          if (scan['Index Name'] === 'delivery_outcomes_pkey') assert.equal(scan['Actual Loops'], pageSize, `outcome probes, ${where}`);
          else assert.equal((scan['Actual Rows'] ?? 0) * (scan['Actual Loops'] ?? 0), pageSize, `${scan['Index Name']} rows read, ${where}`);
        }
      }
    };
    await check('stale statistics');
    await sql`analyze recipients`.execute(db.kysely);
    await sql`analyze deliveries`.execute(db.kysely);
    await check('after ANALYZE');
  });
});
