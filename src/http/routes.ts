import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { controlCampaign, scheduleCampaign } from '../campaigns/control.js';
import { createCampaign } from '../campaigns/create.js';
import { editDraftCampaign } from '../campaigns/editDraft.js';
import { listTemplateFolders } from '../campaigns/templates.js';
import { previewAudience } from '../campaigns/audience.js';
import { createSegment, deleteSegment, listSavedSegments, showSegment } from '../campaigns/segments.js';
import { writeReport } from '../campaigns/report.js';
import { retryFailedDeliveries } from '../campaigns/retryFailed.js';
import { assertDetailsKept, purgeCampaignDetails } from '../campaigns/purgeDetails.js';
import { getCampaignOrThrow } from '../campaigns/control.js';
import type { CampaignAction } from '../domain/campaignState.js';
import { emailKey } from '../domain/email.js';
import { createList } from '../sql/createList.js';
import { listLists } from '../sql/listLists.js';
import { addSuppressions } from '../sql/addSuppressions.js';
import { listSuppressions } from '../sql/listSuppressions.js';
import { removeSuppression } from '../sql/removeSuppression.js';
import { recipientHistoryView } from '../campaigns/history.js';
import { campaignTimeline } from '../sql/campaignTimeline.js';
import { campaignContent, dryRunCampaign, sendTest } from './api/campaigns.js';
import { previewAnswer } from './api/preview.js';
import type { ApiContext } from './api/context.js';
import { deliveries } from './api/deliveries.js';
import { importUpload } from './api/lists.js';
import { patchOf, upsertFromBody } from './api/recipients.js';
import { changeRecipient, removeFromList } from '../campaigns/recipients.js';
import { DEFAULT_ERASE_WAIT_MS, eraseRecipient, readmitRecipient } from '../campaigns/erasure.js';
import { listExport, type RecipientExport } from '../campaigns/exportList.js';
import { audienceExport } from '../campaigns/exportAudience.js';
import { recipientPatchSchema } from '../domain/recipientInput.js';
import {
  addSuppressionsBody,
  audiencePreviewBody,
  audienceExportBody,
  campaignIdParams,
  createCampaignBody,
  createListBody,
  createSegmentBody,
  deliveriesQuery,
  emailParams,
  eraseQuery,
  exportQuery,
  importQuery,
  listMemberParams,
  upsertRecipientsBody,
  recipientEmailParams,
  errorBody,
  listNameParams,
  previewQuery,
  reportQuery,
  retryFailedBody,
  scheduleBody,
  segmentNameParams,
  segmentExportQuery,
  suppressionsQuery,
  testSendBody,
  updateCampaignBody,
} from './api/schemas.js';
import { dashboardPage, type DashboardAssets } from './dashboard/page.js';
import { HttpError } from './errors.js';
import { openEventStream } from './eventStream.js';
import { route, type Route } from './route.js';
import { unsubscribe, unsubscribePage } from './unsubscribe.js';
import { handleMailgunWebhook } from './webhooks.js';

/** Response schemas are for the OpenAPI document only; answers are serialised as they are. */
const ok = (description: string) => z.any().describe(description);
const errors = { '4xx': errorBody.describe('the client must change the request: { error, fields? }') };
const api = <E extends object>(summary: string, extra: E) => ({ summary, tags: ['api'], security: [{ bearer: [] }], ...extra });
const hidden = { hide: true } as const;

const UNSUBSCRIBE_PATH = /^\/u\/([A-Za-z0-9_.-]+)$/;

/**
 * Every route of `herald serve`, in one table: the public group first (links in mail,
 * provider webhooks, health), then the pages (no data in them), then the API and /metrics
 * behind the bearer token. Access rules are applied in app.ts from each row's group.
 */
export function routeTable(ctx: ApiContext, dashboard: DashboardAssets, openApi: () => unknown): Route[] {
  const { db, config, log, reads } = ctx;
  /** Runs a write to campaign `id`, then forgets what was read of it (even when it failed part-way). */
  const writing = async <T>(id: number, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } finally {
      reads.changed(id);
    }
  };
  /** Streams an export with backpressure, as the report is; every error (a name not found) came before this. */
  const sendCsv = async (reply: { hijack(): unknown; raw: ServerResponse }, exported: RecipientExport, what: string): Promise<void> => {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${exported.filename}"`,
      'cache-control': 'no-store',
    });
    try {
      await exported.write(reply.raw);
      reply.raw.end();
    } catch (err) {
      log.error({ err: (err as Error).message }, `${what} stream failed`);
      reply.raw.destroy();
    }
  };
  const campaignAction = (action: CampaignAction, summary: string) =>
    route('token', 'none', {
      method: 'POST',
      url: `/api/v1/campaigns/:id/${action}`,
      schema: api(summary, { params: campaignIdParams, response: { 200: ok('the campaign after the change'), ...errors } }),
      handler: async (req) => {
        await writing(req.params.id, () => controlCampaign(db, config, req.params.id, action));
        return reads.view(req.params.id);
      },
    });

  return [
    // ── public: each request carries its own proof, or none is needed ──────────────────────
    route('public', 'none', {
      method: 'GET',
      url: '/u/:token',
      schema: hidden,
      // Mail scanners prefetch links: GET shows a confirmation page, only POST acts.
      handler: async (req, reply) => {
        const token = unsubscribeToken(req.url);
        if (token === null) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
        const page = unsubscribePage(token, ctx.unsubscribeSecret);
        return reply.code(page.status).type('text/html; charset=utf-8').send(page.html);
      },
    }),
    route('public', 'raw', {
      method: 'POST',
      url: '/u/:token',
      schema: hidden,
      // RFC 8058 one-click: a form body (List-Unsubscribe=One-Click) that says nothing more.
      handler: async (req, reply) => {
        const token = unsubscribeToken(req.url);
        if (token === null) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
        const page = await unsubscribe(db.kysely, token, ctx.unsubscribeSecret);
        if (page.status !== 200) log.warn({ path: '/u/…' }, 'unsubscribe with an invalid token');
        return reply.code(page.status).type('text/html; charset=utf-8').send(page.html);
      },
    }),
    route('public', 'raw', {
      method: 'POST',
      url: '/webhooks/mailgun',
      schema: hidden,
      // The signature is checked over the body exactly as it arrived.
      handler: async (req, reply) => {
        const body = (req.body as Buffer | undefined)?.toString('utf8') ?? '';
        if (!ctx.webhookSigningKey) return reply.code(503).type('text/plain; charset=utf-8').send('MAILGUN_WEBHOOK_SIGNING_KEY is not set');
        const outcome = await handleMailgunWebhook(ctx.ingester, ctx.webhookSigningKey, body, Date.now());
        if (outcome.status >= 400) log.warn({ status: outcome.status, reason: outcome.message }, 'webhook rejected');
        return reply.code(outcome.status).type('text/plain; charset=utf-8').send(outcome.message);
      },
    }),
    route('public', 'raw', {
      method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
      url: '/healthz',
      schema: hidden,
      handler: async (_req, reply) => reply.type('text/plain; charset=utf-8').send('ok'),
    }),

    // ── pages: no data in them, so no token; only the server's own names without one ───────
    ...['/', '/dashboard'].map((url) =>
      route('page', 'none', {
        method: 'GET',
        url,
        schema: hidden,
        handler: async (_req, reply) => reply.type('text/html; charset=utf-8').send(dashboardPage(ctx.tokenRequired)),
      }),
    ),
    route('page', 'none', {
      method: 'GET',
      url: '/dashboard/app.js',
      schema: hidden,
      handler: async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(dashboard.script),
    }),
    route('page', 'none', {
      method: 'GET',
      url: '/dashboard/style.css',
      schema: hidden,
      handler: async (_req, reply) => reply.type('text/css; charset=utf-8').send(dashboard.style),
    }),
    route('page', 'none', {
      method: 'GET',
      url: '/openapi.json',
      schema: hidden,
      handler: async (_req, reply) => reply.type('application/json; charset=utf-8').send(JSON.stringify(openApi())),
    }),

    // ── token: the API and /metrics ────────────────────────────────────────────────────────
    route('token', 'none', {
      method: 'GET',
      url: '/metrics',
      schema: { summary: 'Prometheus metrics (text exposition format)', security: [{ bearer: [] }] },
      handler: async (_req, reply) => reply.type(ctx.metrics.contentType).send(await ctx.metrics.exposition()),
    }),

    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/lists',
      schema: api('Lists with member counts', { response: { 200: ok('{ items }'), ...errors } }),
      handler: async () => ({ items: await listLists(db.kysely) }),
    }),
    route('token', 'json', {
      method: 'POST',
      url: '/api/v1/lists',
      schema: api('Create a list', { body: createListBody, response: { 201: ok('the new list'), ...errors } }),
      handler: async (req, reply) => {
        const id = await createList(db.kysely, req.body.name);
        if (id === null) throw new HttpError(409, `list '${req.body.name}' already exists`);
        return reply.code(201).send({ id, name: req.body.name });
      },
    }),
    route('token', 'csv', {
      method: 'POST',
      url: '/api/v1/lists/:name/recipients',
      schema: api('Import recipients from a CSV upload (email column required; name and any other columns become attributes)', {
        params: listNameParams,
        querystring: importQuery,
        consumes: ['text/csv'],
        response: { 200: ok('counts, and the first 1,000 rejected rows with line number and reason'), ...errors },
      }),
      handler: async (req) => importUpload(ctx, req.raw, req.params.name, { update: req.query.update ?? false }),
    }),
    route('token', 'none', {
      method: 'DELETE',
      url: '/api/v1/lists/:name/members/:email',
      schema: api('Take one person out of a list (they stay a recipient, and in their other lists)', {
        params: listMemberParams,
        response: { 200: ok('{ list, removed, members }'), ...errors },
      }),
      handler: async (req) => removeFromList(db, req.params.name, req.params.email),
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/lists/:name/export',
      schema: api('The members as CSV (email, name, one column per attribute), streamed', {
        params: listNameParams,
        querystring: exportQuery,
        produces: ['text/csv'],
        response: { 200: ok('CSV with a header row, as `recipients import` reads it'), ...errors },
      }),
      // Streamed with backpressure, as the report is; a list that does not exist is a 404
      // before anything is written.
      handler: async (req, reply) => sendCsv(reply, await listExport(db, req.params.name, { spreadsheetSafe: !req.query.raw }), 'list export'),
    }),

    route('token', 'json', {
      method: 'POST',
      url: '/api/v1/recipients',
      schema: api('Create or update recipients (one object or an array); valid ones are stored, refused ones named by index and field', {
        body: upsertRecipientsBody,
        response: { 200: ok('{ created, updated, unchanged, addedToLists, results, refused }'), ...errors },
      }),
      handler: async (req) => upsertFromBody(ctx, req.body),
    }),
    route('token', 'json', {
      method: 'PATCH',
      url: '/api/v1/recipients/:email',
      schema: api("Change a recipient's name or attributes: merged into what it has (a null attribute value removes it)", {
        params: recipientEmailParams,
        body: recipientPatchSchema,
        response: { 200: ok('{ email, name, attributes, changed }'), ...errors },
      }),
      handler: async (req) => changeRecipient(db, req.params.email, patchOf(req.body)),
    }),
    route('token', 'none', {
      method: 'DELETE',
      url: '/api/v1/recipients/:email',
      schema: api('Erase a person (their data goes; delivery records and counts stay, without the address); see docs/operations.md', {
        params: recipientEmailParams,
        querystring: eraseQuery,
        response: { 200: ok('{ email, erased, erasedAt, lists, suppression, campaigns, stillClaimed, unmatchedEventsDeleted }'), ...errors },
      }),
      handler: async (req) => {
        const report = await eraseRecipient(db, req.params.email, {
          suppress: req.query.suppress ?? false,
          waitMs: req.query.wait === undefined ? DEFAULT_ERASE_WAIT_MS : req.query.wait * 1000,
        });
        for (const c of report.campaigns) reads.changed(c.campaignId);
        return report;
      },
    }),
    route('token', 'none', {
      method: 'POST',
      url: '/api/v1/recipients/:email/readmit',
      schema: api('Let an erased address be stored again (the person signed up anew); a suppression it had comes back', {
        params: recipientEmailParams,
        response: { 200: ok('{ email, suppressed }'), ...errors },
      }),
      handler: async (req) => readmitRecipient(db, req.params.email),
    }),

    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/segments',
      schema: api('Saved segments with their expressions', {
        response: { 200: ok('{ items: [{ name, expression, createdAt, pendingCampaigns }] }'), ...errors },
      }),
      handler: async () => ({ items: await listSavedSegments(db) }),
    }),
    route('token', 'json', {
      method: 'POST',
      url: '/api/v1/segments',
      schema: api('Save a segment under a name (a syntax error answers 400 with its position in fields)', {
        body: createSegmentBody,
        response: { 201: ok('{ id, name, expression }'), ...errors },
      }),
      handler: async (req, reply) => reply.code(201).send(await createSegment(db, req.body.name, req.body.where)),
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/segments/:name',
      schema: api('A saved segment and the campaigns that use it', {
        params: segmentNameParams,
        response: { 200: ok('{ name, expression, createdAt, campaigns }'), ...errors },
      }),
      handler: async (req) => showSegment(db, req.params.name),
    }),
    route('token', 'none', {
      method: 'DELETE',
      url: '/api/v1/segments/:name',
      schema: api('Remove a saved segment (409 while a campaign that has not started uses it)', {
        params: segmentNameParams,
        response: { 200: ok('{ removed }'), ...errors },
      }),
      handler: async (req) => {
        await deleteSegment(db, req.params.name);
        return { removed: req.params.name };
      },
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/segments/:name/export',
      schema: api("The recipients a saved segment selects (after exclusions and suppressions) as CSV, in the list export's layout, streamed", {
        params: segmentNameParams,
        querystring: segmentExportQuery,
        produces: ['text/csv'],
        response: { 200: ok('CSV with a header row, as `recipients import` reads it'), ...errors },
      }),
      handler: async (req, reply) => {
        const q = req.query;
        // Every value of a repeated parameter (the schema above checked the last one).
        const all = new URL(req.url, 'http://herald').searchParams;
        const exported = await audienceExport(
          db,
          { segment: req.params.name, lists: all.getAll('lists'), excludeLists: all.getAll('excludeLists') },
          { spreadsheetSafe: !q.raw, includeSuppressed: q.includeSuppressed ?? false },
        );
        await sendCsv(reply, exported, 'segment export');
      },
    }),
    route('token', 'json', {
      method: 'POST',
      url: '/api/v1/audience/export',
      schema: api('The recipients an audience (lists, exclusions, a segment or its text) holds as CSV, as the preview counts them, streamed', {
        body: audienceExportBody,
        produces: ['text/csv'],
        response: { 200: ok('CSV with a header row, as `recipients import` reads it'), ...errors },
      }),
      handler: async (req, reply) => {
        const { raw, includeSuppressed, ...input } = req.body;
        const exported = await audienceExport(db, input, { spreadsheetSafe: !raw, includeSuppressed: includeSuppressed ?? false });
        await sendCsv(reply, exported, 'audience export');
      },
    }),
    route('token', 'json', {
      method: 'POST',
      url: '/api/v1/audience/preview',
      schema: api('How many recipients an audience holds now (after exclusions and suppressions), 10 of them, and warnings', {
        body: audiencePreviewBody,
        response: { 200: ok('{ count, suppressed, samples, warnings }'), ...errors },
      }),
      handler: async (req) => previewAudience(db, req.body),
    }),

    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/templates',
      schema: api('Template folders a campaign can name, with the parts each holds', {
        response: { 200: ok('{ items: [{ name, parts }] }, parts e.g. ["html.njk", "text.njk"]'), ...errors },
      }),
      handler: async () => ({ items: listTemplateFolders() }),
    }),

    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/campaigns',
      schema: api('The newest campaigns with sent/failed counts', { response: { 200: ok('{ items }'), ...errors } }),
      handler: async () => reads.list(),
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/campaigns/events',
      schema: api('Server-sent events: the campaign list (as GET /api/v1/campaigns answers it) each time it changes', {
        produces: ['text/event-stream'],
        response: { 200: ok('text/event-stream: `data: { items }` on each change, a comment line every 15 s'), ...errors },
      }),
      handler: async (_req, reply) => openEventStream(reply, (send) => reads.watchList(send)),
    }),
    route('token', 'json', {
      method: 'POST',
      url: '/api/v1/campaigns',
      schema: api('Create a draft campaign', { body: createCampaignBody, response: { 201: ok('the campaign'), ...errors } }),
      handler: async (req, reply) => {
        const id = await createCampaign(db, config, req.body);
        reads.changed(id);
        return reply.code(201).send(await reads.view(id));
      },
    }),
    route('token', 'json', {
      method: 'PATCH',
      url: '/api/v1/campaigns/:id',
      schema: api(
        'Edit a draft: any field of a new campaign, the rest kept (null clears an optional one); the same checks as create; 409 once it is not a draft',
        {
          params: campaignIdParams,
          body: updateCampaignBody,
          response: { 200: ok('the campaign after the change'), ...errors },
        },
      ),
      handler: async (req) => {
        await writing(req.params.id, () => editDraftCampaign(db, config, req.params.id, req.body));
        return reads.view(req.params.id);
      },
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/campaigns/:id',
      schema: api('A campaign with counts per status, rate, ETA, workers and the not-sent breakdown', {
        params: campaignIdParams,
        response: { 200: ok('the campaign'), ...errors },
      }),
      handler: async (req) => reads.view(req.params.id),
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/campaigns/:id/content',
      schema: api(
        'What the campaign renders from: the template sources stored at its first start (never rewritten), or made from the files before it starts (stored: false)',
        {
          params: campaignIdParams,
          response: {
            200: ok('{ campaignId, hash, stored, madeAt, template, subject, html: { file, via, compiled }, text, files: { path: source } }'),
            ...errors,
          },
        },
      ),
      handler: async (req) => campaignContent(ctx, req.params.id),
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/campaigns/:id/events',
      schema: api('Server-sent events: the campaign (as GET /api/v1/campaigns/{id} answers it) each time it changes', {
        params: campaignIdParams,
        produces: ['text/event-stream'],
        response: { 200: ok('text/event-stream: `data: {campaign}` at once and on each change, a comment line every 15 s'), ...errors },
      }),
      handler: async (req, reply) => {
        const id = req.params.id;
        // A campaign that does not exist is a 404 before any stream opens.
        await reads.view(id);
        openEventStream(reply, (send) => reads.watchCampaign(id, send));
      },
    }),
    campaignAction('start', 'Start (or restart) a campaign'),
    campaignAction('pause', 'Pause: workers stop within about a second and release what they had not sent'),
    campaignAction('resume', 'Resume a paused campaign'),
    campaignAction('cancel', 'Cancel a campaign for good'),
    route('token', 'json', {
      method: 'POST',
      url: '/api/v1/campaigns/:id/schedule',
      schema: api('Schedule a draft (or re-schedule a scheduled) campaign; a worker with --watch starts it', {
        params: campaignIdParams,
        body: scheduleBody,
        response: { 200: ok('the campaign after the change'), ...errors },
      }),
      handler: async (req) => {
        await writing(req.params.id, () => scheduleCampaign(db, config, req.params.id, new Date(req.body.at)));
        return reads.view(req.params.id);
      },
    }),
    route('token', 'json', {
      method: 'POST',
      url: '/api/v1/campaigns/:id/test-send',
      schema: api('Send one rendered test message; delivery records are untouched', {
        params: campaignIdParams,
        body: testSendBody,
        response: { 200: ok('the provider id'), ...errors },
      }),
      handler: async (req) => sendTest(ctx, req.params.id, req.body),
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/campaigns/:id/preview',
      schema: api('The message exactly as it would be sent to one recipient (subject, headers, HTML and text parts) and the template checks', {
        params: campaignIdParams,
        querystring: previewQuery,
        produces: ['application/json', 'text/html', 'text/plain', 'message/rfc822'],
        response: {
          200: ok(
            'json: { campaignId, recipient: { email, name, source: audience|given|sample, inAudience }, notes, subject, headers, html, text, checks: [{ code, severity, message }] }; html (served with a CSP that runs nothing), text, or eml: that alone',
          ),
          ...errors,
        },
      }),
      handler: async (req, reply) => previewAnswer(ctx, reply, req.params.id, req.query),
    }),
    route('token', 'none', {
      method: 'POST',
      url: '/api/v1/campaigns/:id/dry-run',
      schema: api('Render every recipient as a real run would; send and record nothing', {
        params: campaignIdParams,
        response: { 200: ok('{ rendered, failed, bytes, failures: the first 1,000 render failures, checkedAs, checks: as the preview has them }'), ...errors },
      }),
      handler: async (req) => dryRunCampaign(ctx, req.params.id),
    }),
    route('token', 'json', {
      method: 'POST',
      url: '/api/v1/campaigns/:id/retry-failed',
      schema: api('Re-queue the failed deliveries of a finished or paused campaign (transient failures by default)', {
        params: campaignIdParams,
        // No body at all means the defaults, as the CLI without --reason and --since.
        body: retryFailedBody.optional(),
        response: { 200: ok('{ campaignId, requeued, before, status }'), ...errors },
      }),
      handler: async (req) => writing(req.params.id, () => retryFailedDeliveries(db, req.params.id, { reasons: req.body?.reasons, since: req.body?.since })),
    }),
    route('token', 'none', {
      method: 'POST',
      url: '/api/v1/campaigns/:id/purge-details',
      schema: api("Drop a finished or cancelled campaign's per-recipient rows; its counts stay (the report is gone for good)", {
        params: campaignIdParams,
        response: { 200: ok('{ campaignId, deleted, purgedAt }'), ...errors },
      }),
      handler: async (req) => writing(req.params.id, () => purgeCampaignDetails(db, req.params.id)),
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/campaigns/:id/report',
      schema: api('One row per recipient (email, status, attempts, provider_id, error_code, error_message, sent_at), streamed', {
        params: campaignIdParams,
        querystring: reportQuery,
        produces: ['text/csv', 'application/x-ndjson'],
        response: { 200: ok('CSV with a header row, or one JSON object per line'), ...errors },
      }),
      // Streamed straight to the socket with backpressure (writeReport waits for 'drain'), so
      // memory stays flat however large the campaign; the reader leaving stops the query.
      handler: async (req, reply) => {
        const id = req.params.id;
        assertDetailsKept(await getCampaignOrThrow(db, id), 'report');
        const format = req.query.format;
        reply.hijack();
        reply.raw.writeHead(200, {
          'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
          'content-disposition': `attachment; filename="campaign-${id}.${format}"`,
          'cache-control': 'no-store',
        });
        try {
          await writeReport(db, id, format, reply.raw);
          reply.raw.end();
        } catch (err) {
          log.error({ err: (err as Error).message, campaign: id }, 'report stream failed');
          reply.raw.destroy();
        }
      },
    }),

    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/campaigns/:id/timeline',
      schema: api('Messages sent per minute, opens and clicks per hour, and the most clicked links (from kept counts)', {
        params: campaignIdParams,
        response: { 200: ok('{ sentPerMinute, opensPerHour, clicksPerHour, topLinks }'), ...errors },
      }),
      handler: async (req) => {
        await getCampaignOrThrow(db, req.params.id);
        return campaignTimeline(db.kysely, req.params.id);
      },
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/recipients/:email',
      schema: api('A person: every campaign they were in with send state, outcome and engagement, and their suppression', {
        params: recipientEmailParams,
        response: { 200: ok('{ email, recipient, suppressed, campaigns }'), ...errors },
      }),
      handler: async (req) => recipientHistoryView(db, req.params.email),
    }),
    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/deliveries',
      schema: api('Delivery records, filtered, in pages (pass `next` as `after` for the next page)', {
        querystring: deliveriesQuery,
        response: { 200: ok('{ items, next }'), ...errors },
      }),
      handler: async (req) => deliveries(ctx, req.query),
    }),

    route('token', 'none', {
      method: 'GET',
      url: '/api/v1/suppressions',
      schema: api('Suppressed addresses, newest first', { querystring: suppressionsQuery, response: { 200: ok('{ items }'), ...errors } }),
      handler: async (req) => ({ items: await listSuppressions(db.kysely, req.query.limit, req.query.reason) }),
    }),
    route('token', 'json', {
      method: 'POST',
      url: '/api/v1/suppressions',
      schema: api('Suppress addresses', { body: addSuppressionsBody, response: { 200: ok('{ added, alreadySuppressed }'), ...errors } }),
      handler: async (req) => {
        const added = await addSuppressions(db.kysely, req.body.emails, req.body.reason, 'api');
        return { added, alreadySuppressed: new Set(req.body.emails).size - added };
      },
    }),
    route('token', 'none', {
      method: 'DELETE',
      url: '/api/v1/suppressions/:email',
      schema: api('Remove an address from the suppression list', { params: emailParams, response: { 200: ok('removed'), ...errors } }),
      handler: async (req) => {
        if (!(await removeSuppression(db.kysely, req.params.email))) throw new HttpError(404, `'${req.params.email}' is not suppressed`);
        return { removed: emailKey(req.params.email) };
      },
    }),
  ];
}

/** The token of an unsubscribe link, from the path as sent (a token is never percent-encoded). */
function unsubscribeToken(url: string): string | null {
  return UNSUBSCRIBE_PATH.exec(url.split('?')[0]!)?.[1] ?? null;
}
