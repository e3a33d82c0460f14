import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import { campaignStatusReport } from '../src/campaigns/status.js';
import type { Database } from '../src/db/schema.js';
import { campaignTimeline } from '../src/sql/campaignTimeline.js';
import { deliveriesPage } from '../src/sql/deliveriesPage.js';
import { findCampaign } from '../src/sql/findCampaign.js';
import { finishIfComplete } from '../src/sql/finishIfComplete.js';
import { foldDeliveryCounts } from '../src/sql/foldDeliveryCounts.js';
import { listCampaigns } from '../src/sql/campaignList.js';
import { listLists } from '../src/sql/listLists.js';
import { recipientHistory } from '../src/sql/recipientHistory.js';
import { onRealPostgres, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';

const skip = onRealPostgres ? false : 'query plans of real Postgres';
if (skip) console.log(`# read plans test skipped: ${skip}`);

/** The tables that grow with the audience and the history: no hot read may scan them whole. */
const BIG = new Set(['deliveries', 'recipients', 'list_members', 'delivery_outcomes', 'delivery_events']);

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

function fullScans(node: PlanNode, out: string[] = []): string[] {
  if (node['Node Type'] === 'Seq Scan' && node['Relation Name'] && BIG.has(node['Relation Name'])) out.push(node['Relation Name']);
  for (const child of node.Plans ?? []) fullScans(child, out);
  return out;
}

describe('hot reads are driven by indexes, on stale and on fresh statistics (postgres)', { skip }, () => {
  let db: TestDb;
  let captured: CompiledQuery[] = [];
  let capturing: Kysely<Database>;
  let campaignId: number;
  before(async () => {
    db = await openTestDb();
    capturing = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: db.pool! }),
      log: (event) => {
        if (event.level === 'query') captured.push(event.query);
      },
    });
    // Statistics stay as the bulk load left them (none) until the test analyses on purpose.
    for (const table of BIG) await sql`alter table ${sql.table(table)} set (autovacuum_enabled = false)`.execute(db.kysely);
    const list = await seedList(db.kysely, 'plans', 120_000);
    campaignId = await seedCampaign(db.kysely, list.listId, { status: 'running' });
    await sql`
      insert into deliveries (campaign_id, recipient_id, status, attempts, sent_at, worker_id)
      select ${campaignId}, recipient_id, case when recipient_id % 400 = 0 then 'queued' else 'sent' end, 1, now(), 'w1'
      from list_members where list_id = ${list.listId}
    `.execute(db.kysely);
    await sql`
      insert into delivery_outcomes (campaign_id, recipient_id, standing, delivered_at, first_open_at, opens)
      select campaign_id, recipient_id, 'delivered', now(), case when recipient_id % 3 = 0 then now() end, (recipient_id % 3 = 0)::int
      from deliveries where campaign_id = ${campaignId} and status = 'sent'
    `.execute(db.kysely);
    await foldDeliveryCounts(db.kysely);
  });
  after(async () => {
    await db?.dispose();
  });

  async function hotReads(): Promise<CompiledQuery[]> {
    captured = [];
    const handle = { ...db, kysely: capturing };
    const campaign = (await findCampaign(capturing, campaignId))!;
    await campaignStatusReport(handle, campaign);
    await listCampaigns(capturing, 100);
    await listLists(capturing);
    await campaignTimeline(capturing, campaignId);
    await recipientHistory(capturing, 'plans-user777@example.test');
    await deliveriesPage(capturing, { email: 'plans-user777@example.test', limit: 50 });
    await deliveriesPage(capturing, { campaignId, status: 'queued', limit: 50 });
    await finishIfComplete(capturing, campaignId);
    return captured;
  }

  async function scansOf(queries: CompiledQuery[]): Promise<string[]> {
    const found: string[] = [];
    for (const q of queries) {
      const result = await db.pool!.query(`explain (format json) ${q.sql}`, q.parameters as unknown[]);
      const plan = (result.rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan;
      const scans = fullScans(plan);
      if (scans.length > 0) found.push(`${scans.join(', ')} scanned by: ${q.sql.replace(/\s+/g, ' ').slice(0, 160)}`);
    }
    return found;
  }

  it('reads no big table whole, before and after ANALYZE', async () => {
    const queries = await hotReads();
    assert.ok(queries.length >= 12, `captured ${queries.length} queries`);
    assert.deepEqual(await scansOf(queries), [], 'stale statistics');
    await sql`analyze`.execute(db.kysely);
    assert.deepEqual(await scansOf(await hotReads()), [], 'fresh statistics');
  });
});
