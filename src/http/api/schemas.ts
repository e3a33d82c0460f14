import { z } from 'zod';
import { domainNameSchema, hasLineBreak, LINE_BREAK_MESSAGE, senderAddressSchema, tagsSchema, templateNameSchema } from '../../domain/validation.js';
import { emailKey, normalizeEmail } from '../../domain/email.js';
import { DEFAULT_RETRY_REASONS } from '../../campaigns/retryFailed.js';
import { SEGMENT_NAME_RULE } from '../../domain/audience.js';
import { SEGMENT_LIMITS } from '../../domain/segment/index.js';
import { HttpError } from '../errors.js';
import { MAX_ITEMS } from '../../domain/recipientInput.js';

const oneLine = { message: LINE_BREAK_MESSAGE, abort: true };
// The rules the CLI applies too (domain/validation.ts), as zod schemas.
const address = senderAddressSchema;
const email = z.string().refine((v) => normalizeEmail(v).ok, { message: 'expected an email address' });
/** An address to suppress: validated, then passed on trimmed and lower-cased (its key). */
const suppressedEmail = email.transform(emailKey);
const positiveInt = z.number().int().positive();

export const createListBody = z.object({ name: z.string().trim().min(1).max(200) }).strict();

const listName = z.string().min(1).max(200);
const listNames = z.array(listName).max(100);
const segmentText = z.string().min(1).max(SEGMENT_LIMITS.maxLength).describe('segment text (docs/segments.md), e.g. plan = "pro" and clicked within 90 days');
const segmentName = z.string().min(1).max(100).describe('a saved segment');

const subject = z
  .string()
  .min(1, 'required: the subject line (Nunjucks)')
  .max(998)
  .refine((v) => !hasLineBreak(v), oneLine)
  .describe('Nunjucks, e.g. "Hi {{ name }}"');

/** A new campaign's fields; PATCH takes any of them (campaignFields below). */
const campaignFields = {
  name: z.string().trim().min(1, 'required: a name to know the campaign by').max(200),
  list: listName.optional().describe('name of the list to send to (or use lists)'),
  lists: listNames.optional().describe('lists to send to: their union, each recipient once'),
  excludeLists: listNames.optional().describe('lists whose members are left out'),
  segment: segmentName.optional(),
  where: segmentText.optional(),
  template: templateNameSchema.describe('a template folder (GET /api/v1/templates lists them)'),
  subject,
  from: address,
  replyTo: address.optional(),
  domain: domainNameSchema.optional(),
  tags: tagsSchema.optional(),
  ratePerSecond: positiveInt.optional(),
  maxConcurrency: positiveInt.optional(),
  priority: z.number().int().min(-1000).optional(),
  unknownPolicy: z.enum(['reconcile', 'resend', 'skip']).optional(),
};

type AudienceFields = { list?: unknown; lists?: unknown[] | undefined; segment?: unknown; where?: unknown };

/**
 * The audience rules across fields, checked even when other fields are wrong (`when`), so one
 * answer names every wrong field: a form shows them all at once.
 */
const audienceRules = (listsRequired: boolean) =>
  z.superRefine<AudienceFields>(
    (body, ctx) => {
      if (listsRequired && body.list === undefined && (body.lists ?? []).length === 0)
        ctx.addIssue({ code: 'custom', path: ['lists'], message: 'name at least one list (list or lists)' });
      if (body.segment != null && body.where != null) ctx.addIssue({ code: 'custom', path: ['where'], message: 'give segment or where, not both' });
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value) },
  );

export const createCampaignBody = z.object(campaignFields).strict().check(audienceRules(true));

/** PATCH /api/v1/campaigns/{id}: any field of a new campaign; null clears an optional one (editDraft.ts). */
export const updateCampaignBody = z
  .object({
    ...campaignFields,
    name: campaignFields.name.optional(),
    template: campaignFields.template.optional(),
    subject: subject.optional(),
    from: address.optional(),
    replyTo: address.nullable().optional(),
    domain: domainNameSchema.nullable().optional(),
    segment: segmentName.nullable().optional().describe('a saved segment (replaces where); null: no filter'),
    where: segmentText.nullable().optional().describe('segment text (replaces segment); null: no filter'),
    ratePerSecond: positiveInt.nullable().optional().describe('messages per second; null: no limit of its own'),
    maxConcurrency: positiveInt.nullable().optional(),
  })
  .strict()
  .check(audienceRules(false));

export const createSegmentBody = z
  .object({
    name: z.string().min(1).max(100).describe(`the segment's name: ${SEGMENT_NAME_RULE}`),
    where: segmentText,
  })
  .strict();

const audienceFields = {
  lists: listNames.optional().describe('lists whose members are counted (default: every recipient)'),
  excludeLists: listNames.optional(),
  segment: segmentName.optional(),
  where: segmentText.optional(),
};
const segmentOrWhere = (body: { segment?: string | undefined; where?: string | undefined }, ctx: z.RefinementCtx): void => {
  if (body.segment !== undefined && body.where !== undefined) ctx.addIssue({ code: 'custom', path: ['where'], message: 'give segment or where, not both' });
};

export const audiencePreviewBody = z.object(audienceFields).strict().superRefine(segmentOrWhere);

export const audienceExportBody = z
  .object({
    ...audienceFields,
    includeSuppressed: z.boolean().optional().describe('also the suppressed recipients (by default the file holds those the preview counts)'),
    raw: z.boolean().optional().describe('values exactly as stored; by default a cell a spreadsheet would run as a formula starts with an apostrophe'),
  })
  .strict()
  .superRefine(segmentOrWhere)
  .superRefine((body, ctx) => {
    if (body.segment === undefined && body.where === undefined) ctx.addIssue({ code: 'custom', path: ['where'], message: 'give segment or where' });
  });

export const segmentNameParams = z.object({ name: z.string().describe('segment name') });

export const testSendBody = z.object({ to: email, as: email.optional() }).strict();

const suppressionReason = z.enum(['unsubscribed', 'bounced', 'complained', 'manual']);

export const addSuppressionsBody = z
  .object({
    emails: z.array(suppressedEmail).min(1).max(10_000),
    reason: suppressionReason.default('manual'),
  })
  .strict();

export const suppressionsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    reason: suppressionReason.optional(),
  })
  .strict();

export const deliveryStatus = z.enum(['pending', 'queued', 'sent', 'failed', 'suppressed', 'unknown', 'skipped']);

export const deliveriesQuery = z
  .object({
    campaign: z.coerce.number().int().positive().optional(),
    status: deliveryStatus.optional(),
    email: z.string().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
    after: z
      .string()
      .regex(/^\d+\.\d+$/, 'a cursor from a previous page (next)')
      .refine((v) => v.split('.').every((part) => Number.isSafeInteger(Number(part))), 'a cursor from a previous page (next): ids out of range')
      .optional(),
  })
  .strict();

/**
 * A campaign id in a path: safe integers only (beyond them ids lose precision, and beyond
 * 2^63 Postgres refuses them). Its message is the whole answer, as it names the value.
 */
const campaignId = z
  .string()
  .superRefine((raw, ctx) => {
    const id = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id) || id < 1)
      ctx.addIssue({ code: 'custom', message: `campaign id must be a positive whole number, got '${raw}'` });
  })
  .transform(Number)
  .describe('campaign id (a positive whole number)');

export const campaignIdParams = z.object({ id: campaignId });
export const listNameParams = z.object({ name: z.string().describe('list name') });
export const emailParams = z.object({ email: z.string().describe('the suppressed address') });
export const recipientEmailParams = z.object({ email: z.string().min(1).max(320).describe('the address (any case)') });

const ISO_TIME = 'an ISO 8601 time, e.g. 2026-12-01T09:00:00+01:00';
const isoTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T/, { message: ISO_TIME, abort: true })
  .refine((v) => !Number.isNaN(new Date(v).getTime()), ISO_TIME);

export const scheduleBody = z.object({ at: isoTime.describe('when to start; a worker with --watch starts it') }).strict();

export const retryFailedBody = z
  .object({
    reasons: z
      .array(z.string().min(1).max(100))
      .min(1)
      .max(50)
      .optional()
      .describe(`error codes to retry (default: ${DEFAULT_RETRY_REASONS.join(', ')})`),
    since: isoTime.optional().describe('only deliveries that failed at or after this time'),
  })
  .strict();

export const previewQuery = z
  .object({
    as: email.optional().describe("render as this recipient (default: the first of the campaign's audience; sample data when it is empty)"),
    format: z
      .enum(['json', 'html', 'text', 'eml'])
      .default('json')
      .describe('json: subject, headers, both parts and the checks; html or text: that part alone; eml: the whole message (RFC 5322)'),
  })
  .strict();

export const reportQuery = z.object({ format: z.enum(['csv', 'jsonl']).default('csv') }).strict();

const flag = z.enum(['true', 'false']).transform((v) => v === 'true');

/**
 * One recipient or an array of them. Each item is validated on its own (domain/recipientInput.ts),
 * so a bad one is refused by its index and field while the others are stored.
 */
export const upsertRecipientsBody = z
  .unknown()
  .superRefine((v, ctx) => {
    if (Array.isArray(v)) {
      if (v.length === 0) ctx.addIssue({ code: 'custom', message: 'an empty array: send at least one recipient' });
      if (v.length > MAX_ITEMS) ctx.addIssue({ code: 'custom', message: `${v.length} recipients: at most ${MAX_ITEMS} per request (or import a CSV)` });
    } else if (v === null || typeof v !== 'object') {
      ctx.addIssue({ code: 'custom', message: 'expected a recipient object { email, name?, attributes?, lists? } or an array of them' });
    }
  })
  .describe(`{ email, name?, attributes?, lists? } or an array of up to ${MAX_ITEMS}; attributes are merged into an existing recipient's (null removes one)`);

export const eraseQuery = z
  .object({
    suppress: flag.optional().describe('keep "do not mail" for the address even if it was not suppressed'),
    wait: z.coerce.number().int().min(0).max(60).optional().describe('seconds to wait for workers to drop a claim of the person (default 15)'),
  })
  .strict();

export const exportQuery = z
  .object({ raw: flag.optional().describe('values exactly as stored; by default a cell a spreadsheet would run as a formula starts with an apostrophe') })
  .strict();

export const segmentExportQuery = z
  .object({
    // Repeated parameters are read from the URL by the handler (the query parser keeps the last).
    lists: listName.optional().describe('only members of this list; repeat the parameter for several (default: every recipient)'),
    excludeLists: listName.optional().describe('leave out the members of this list; repeat the parameter for several'),
    includeSuppressed: flag.optional().describe('also the suppressed recipients (by default the file holds those the preview counts)'),
    raw: flag.optional().describe('values exactly as stored; by default a cell a spreadsheet would run as a formula starts with an apostrophe'),
  })
  .strict();

export const importQuery = z
  .object({ update: flag.optional().describe("addresses already there get the row's attributes merged in, and its name when it has one") })
  .strict();

export const listMemberParams = z.object({ name: z.string().describe('list name'), email: z.string().min(1).max(320).describe('the address (any case)') });

export const errorBody = z.object({
  error: z.string(),
  fields: z
    .array(
      z.object({
        field: z.string(),
        message: z.string(),
        position: z.number().int().optional().describe("a segment's syntax error: 0-based character offset into the text"),
        line: z.number().int().optional(),
        column: z.number().int().optional(),
      }),
    )
    .optional(),
});

/** What a validation failure says: every wrong field (`from`, `tags.3`, `limit`…). */
export function validationError(issues: readonly z.core.$ZodIssue[], where: 'body' | 'query' | 'params' | 'headers'): HttpError {
  // A wrong path parameter answers with its own message (it names the value it got).
  if (where === 'params') return new HttpError(400, issues.map((i) => i.message).join('; '));
  const fields = issues.map((issue) => ({
    field: issue.path.length > 0 ? issue.path.join('.') : issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys.join(', ') : '(root)',
    // A field left out says so, rather than zod's "expected string, received undefined".
    message: issue.code === 'invalid_type' && / received undefined$/.test(issue.message) ? 'required' : issue.message,
  }));
  return new HttpError(400, `invalid request ${where}: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);
}
