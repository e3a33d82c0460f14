import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { loadConfig } from '../src/config/config.js';
import { packageRoot } from '../src/config/paths.js';
import { campaignRenderSpec } from '../src/sender/render/campaignSpec.js';
import { buildContent } from '../src/sender/render/content.js';
import { findCampaign } from '../src/sql/findCampaign.js';
import { canonicalJson } from '../src/domain/content.js';
import { startBodyTap, type BodyTap } from './support/bodyTap.js';
import { dbLabel, openTestDb, type TestDb } from './support/db.js';
import { seedCampaign, seedList } from './support/fixtures.js';
import { cliDatabaseEnv, MOCK_DOMAIN, MOCK_KEY, runHerald, spawnHerald, startMockProcess, waitWhileRunning, type MockProcess } from './support/processes.js';

/**
 * A campaign keeps its content (docs/architecture.md, "A campaign's content"): what every
 * recipient receives is what the files said at its first start, whatever happens to them after.
 */

/** Writes version `v` of the template: every file (template, layout, partial, globals) carries it. */
function writeTemplates(templates: string, v: number): void {
  const file = (rel: string, text: string): void => {
    fs.mkdirSync(path.dirname(path.join(templates, rel)), { recursive: true });
    fs.writeFileSync(path.join(templates, rel), text);
  };
  file('_layouts/base.html.njk', `<html><body>LAYOUT-${v} {% block body %}{% endblock %}</body></html>\n`);
  file('_partials/sig.html.njk', `<p>SIG-${v}</p>\n`);
  file('globals.json', JSON.stringify({ edition: `EDITION-${v}` }));
  file(
    'news/html.njk',
    `{% extends "_layouts/base.html.njk" %}{% block body %}<p>Hello {{ name }}, {{ edition }} HTML-${v}</p>{% include "_partials/sig.html.njk" %}<a href="{{ unsubscribe_url }}">Unsubscribe</a>{% endblock %}\n`,
  );
  file('news/text.njk', `Hello {{ name }}, {{ edition }} TEXT-${v}\n`);
}

/** The version every part of a received message came from, or a list of them when they differ. */
function versionsOf(m: { html: string; text: string }): string {
  const found = new Set<string>();
  for (const re of [/LAYOUT-(\d+)/, /SIG-(\d+)/, /EDITION-(\d+)/, /HTML-(\d+)/]) found.add(re.exec(m.html)?.[1] ?? '?');
  found.add(/TEXT-(\d+)/.exec(m.text)?.[1] ?? '?');
  return [...found].join(',');
}

describe(`a campaign keeps its content (${dbLabel})`, () => {
  let dir: string;
  let templates: string;
  let env: Record<string, string>;
  let disposeDb: () => Promise<void> = async () => undefined;
  const mocks: MockProcess[] = [];
  const taps: BodyTap[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-content-'));
    templates = path.join(dir, 'templates');
    writeTemplates(templates, 1);
    const database = await cliDatabaseEnv(dir);
    disposeDb = database.dispose;
    env = { ...database.env, MAILGUN_API_KEY: MOCK_KEY, MAILGUN_DOMAIN: MOCK_DOMAIN, HERALD_TEMPLATES_DIR: templates, HERALD_SECRET: 'content-secret' };
    const csv = path.join(dir, 'people.csv');
    fs.writeFileSync(csv, ['email,name', ...Array.from({ length: 60 }, (_, i) => `p${i}@example.org,P ${i}`)].join('\n'));
    await runHerald(['recipients', 'import', csv, '--list', 'people', '--create-list'], env);
  });
  after(async () => {
    for (const t of taps) await t.close();
    for (const m of mocks) await m.stop();
    await disposeDb();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const tapped = async (mockArgs: string[]): Promise<BodyTap> => {
    const mock = await startMockProcess(mockArgs);
    mocks.push(mock);
    const tap = await startBodyTap(mock.url);
    taps.push(tap);
    return tap;
  };
  const create = async (name: string, extra: string[] = []): Promise<string> =>
    (
      await runHerald(
        [
          'campaign',
          'create',
          '--name',
          name,
          '--list',
          'people',
          '--template',
          'news',
          '--subject',
          'News for {{ name }}',
          '--from',
          'a@example.org',
          ...extra,
        ],
        env,
      )
    ).trim();

  it('sends what the files said at the first start: edits after the start and between a pause and a resume change nothing', async () => {
    writeTemplates(templates, 1);
    const tap = await tapped(['--latency', '1']);
    const id = await create('kept', ['--rate', '20']);
    const draft = JSON.parse(await runHerald(['campaign', 'show', id, '--json'], env)) as {
      contentHash: string | null;
      content: { stored: boolean; hash: string };
    };
    assert.equal(draft.contentHash, null, 'a draft has no stored content');
    assert.equal(draft.content.stored, false);

    await runHerald(['campaign', 'start', id], env);
    writeTemplates(templates, 2);
    // A first worker sends part of it and stops (SIGTERM: its unsent claims go back).
    const worker = spawnHerald(['worker'], { ...env, MAILGUN_BASE_URL: tap.url });
    await waitWhileRunning('10 messages were sent', worker, async () => tap.messages.length >= 10);
    worker.process.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.output());
    const sentBeforePause = tap.messages.length;
    assert.ok(sentBeforePause < 60, `${sentBeforePause} sent before the pause`);

    await runHerald(['campaign', 'pause', id], env);
    writeTemplates(templates, 3);
    await runHerald(['campaign', 'resume', id], env);
    await runHerald(['worker'], { ...env, MAILGUN_BASE_URL: tap.url });

    const status = JSON.parse(await runHerald(['campaign', 'status', id, '--json'], env)) as { status: string; counts: { sent: number } };
    assert.equal(status.status, 'finished');
    assert.equal(status.counts.sent, 60);
    assert.equal(new Set(tap.messages.map((m) => m.delivery)).size, 60, 'each recipient once');
    const versions = new Map<string, number>();
    for (const m of tap.messages) versions.set(versionsOf(m), (versions.get(versionsOf(m)) ?? 0) + 1);
    assert.deepEqual([...versions], [['1', 60]], 'every part of every message from version 1');
    assert.ok(tap.messages.every((m) => /^News for P \d+$/.test(m.subject)));

    // The stored content and its hash: show, the API's fields, the report.
    const shown = JSON.parse(await runHerald(['campaign', 'show', id, '--json'], env)) as {
      contentHash: string;
      content: { stored: boolean; files: string[] };
    };
    assert.match(shown.contentHash, /^[0-9a-f]{64}$/);
    assert.equal(shown.content.stored, true);
    assert.deepEqual(shown.content.files, ['_layouts/base.html.njk', '_partials/sig.html.njk', 'globals.json', 'news/html.njk', 'news/text.njk']);
    const printed = await runHerald(['campaign', 'show', id, '--content'], env);
    assert.match(printed, new RegExp(`content: ${shown.contentHash} \\(stored`));
    assert.match(printed, /----- templates\/news\/html\.njk -----\n.*HTML-1/);
    assert.doesNotMatch(printed, /HTML-3|SIG-3|EDITION-3/);
    const report = (await runHerald(['campaign', 'report', id], env)).trim().split('\n');
    assert.equal(report[0]!.split(',').at(-1), 'content_hash');
    assert.equal(report.length, 61);
    for (const line of report.slice(1)) assert.equal(line.split(',').at(-1), shown.contentHash);
    const jsonl = (await runHerald(['campaign', 'report', id, '--format', 'jsonl'], env)).trim().split('\n');
    assert.equal((JSON.parse(jsonl[0]!) as { content_hash: string }).content_hash, shown.contentHash);

    // The hash is of the content: the same sources made again from version 1 hash the same.
    const tmp = path.join(dir, 'again', 'templates');
    writeTemplates(tmp, 1);
    const again = await buildContent(tmp, 'news', 'News for {{ name }}');
    assert.equal(again.hash, shown.contentHash);
    writeTemplates(tmp, 2);
    assert.notEqual((await buildContent(tmp, 'news', 'News for {{ name }}')).hash, shown.contentHash);

    // A test send of the started campaign renders the stored content too; a new draft, the files.
    const before = tap.messages.length;
    await runHerald(['campaign', 'test-send', id, '--to', 'qa@example.org'], { ...env, MAILGUN_BASE_URL: tap.url });
    assert.equal(versionsOf(tap.messages[before]!), '1');
    const fresh = await create('fresh');
    await runHerald(['campaign', 'test-send', fresh, '--to', 'qa@example.org'], { ...env, MAILGUN_BASE_URL: tap.url });
    assert.equal(versionsOf(tap.messages[before + 1]!), '3');
    assert.match(await runHerald(['campaign', 'show', fresh], env), /content: not fixed yet; the files make [0-9a-f]{64} now/);
  });

  it('retry-failed sends the stored content, not the files as they are now', async () => {
    writeTemplates(templates, 5);
    const flaky = await tapped(['--latency', '1', '--stuck-rate', '0.2', '--seed', '5']);
    const id = await create('retry');
    await runHerald(['campaign', 'start', id, '--wait', '--max-attempts', '2'], { ...env, MAILGUN_BASE_URL: flaky.url });
    const first = flaky.messages.length;
    assert.ok(first > 20 && first < 60, `${first} accepted on the first run`);
    assert.ok(flaky.messages.every((m) => versionsOf(m) === '5'));

    writeTemplates(templates, 6);
    const healthy = await tapped(['--latency', '1']);
    assert.match(await runHerald(['campaign', 'retry-failed', id], env), new RegExp(`re-queued ${60 - first} deliveries`));
    await runHerald(['campaign', 'start', id, '--wait'], { ...env, MAILGUN_BASE_URL: healthy.url });
    assert.equal(healthy.messages.length, 60 - first);
    assert.deepEqual([...new Set(healthy.messages.map(versionsOf))], ['5']);
  });

  it('hashes a canonical serialisation: key order does not matter, content does', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: 'é' } }), '{"a":{"c":"é","d":[1,{"x":1,"y":2}]},"b":1}');
  });
});

describe(`a campaign started before contents were stored (${dbLabel})`, () => {
  let db: TestDb;
  let templates: string;
  before(async () => {
    db = await openTestDb();
    templates = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-legacy-content-'));
    fs.cpSync(path.join(packageRoot, 'templates'), templates, { recursive: true });
  });
  after(async () => {
    await db?.dispose();
    fs.rmSync(templates, { recursive: true, force: true });
  });

  it('stores its content once at its first render, from the files; racing workers and later renders all use that one', async () => {
    const { listId } = await seedList(db.kysely, 'legacy', 3);
    const id = await seedCampaign(db.kysely, listId, { status: 'running' });
    await sql`update campaigns set started_at = now() - interval '1 hour' where id = ${id}`.execute(db.kysely);
    const campaign = (await findCampaign(db.kysely, id))!;
    const config = loadConfig({ ...process.env, MAILGUN_API_KEY: '', MAILGUN_DOMAIN: '' });
    const [a, b] = await Promise.all([
      campaignRenderSpec(db.kysely, campaign, config, templates, 'a'),
      campaignRenderSpec(db.kysely, campaign, config, templates, 'b'),
    ]);
    const stored = await sql<{ hash: string; n: number }>`select min(hash) as hash, count(*)::int as n from campaign_content where campaign_id = ${id}`.execute(
      db.kysely,
    );
    assert.equal(stored.rows[0]!.n, 1);
    const hash = stored.rows[0]!.hash;
    assert.equal(hash, (await buildContent(templates, 'spring-sale', 'Hello {{ name }}')).hash, 'made from the files as they were');
    assert.equal(a.key, `${id}:${hash}:a`);
    assert.equal(b.key, `${id}:${hash}:b`);
    fs.appendFileSync(path.join(templates, 'spring-sale', 'text.njk'), '\nEdited after the first render.\n');
    const later = await campaignRenderSpec(db.kysely, campaign, config, templates, 'c');
    assert.equal(later.key, `${id}:${hash}:c`, 'the stored content, not the edited files');
  });
});
