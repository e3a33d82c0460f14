import type { Config } from '../config/config.js';
import type { Db } from '../db/connect.js';
import type { UnknownPolicy } from '../db/schema.js';
import { domainKey } from '../domain/email.js';
import { hasLineBreak, isDomainName, isSenderAddress, isTag, LINE_BREAK_MESSAGE, MAX_TAGS, quoteDisplayName, TAG_RULE } from '../domain/validation.js';
import { UserError } from '../domain/errors.js';
import { templatesDir } from '../config/paths.js';
import { checkCampaignTemplates } from '../sender/render/compile.js';
import { renderSpecFor } from '../sender/render/spec.js';
import { findListId } from '../sql/findListId.js';
import { insertCampaign } from '../sql/insertCampaign.js';

export interface CreateCampaignInput {
  name: string;
  list: string;
  template: string;
  subject: string;
  from: string;
  replyTo?: string | undefined;
  /** Mailgun sending domain; defaults to MAILGUN_DOMAIN. */
  domain?: string | undefined;
  tags?: string[] | undefined;
  ratePerSecond?: number | undefined;
  maxConcurrency?: number | undefined;
  priority?: number | undefined;
  unknownPolicy?: UnknownPolicy | undefined;
}

/** Validates and stores a draft campaign. Templates are compiled now so errors surface early. */
export async function createCampaign(db: Db, config: Config, input: CreateCampaignInput): Promise<number> {
  const listId = await findListId(db.kysely, input.list);
  if (listId === undefined) throw new UserError(`list '${input.list}' does not exist (create it with: herald lists create ${input.list})`);
  checkOneLine('--subject', input.subject);
  checkOneLine('--from', input.from);
  if (input.replyTo) checkOneLine('--reply-to', input.replyTo);
  for (const tag of input.tags ?? []) checkOneLine('--tag', tag);
  checkAddress('--from', input.from);
  if (input.replyTo) checkAddress('--reply-to', input.replyTo);
  const domain = input.domain ?? config.mailgun.domain ?? null;
  if (domain !== null && !isDomainName(domain)) throw new UserError(`--domain '${domain}' is not a domain name`);
  const tags = input.tags ?? [];
  if (tags.length > MAX_TAGS) throw new UserError(`--tag: at most ${MAX_TAGS} tags per campaign, got ${tags.length}`);
  for (const tag of tags) {
    if (!isTag(tag)) throw new UserError(`--tag '${tag}': tags are ${TAG_RULE}`);
  }
  const values = {
    name: input.name,
    list_id: listId,
    template: input.template,
    subject: input.subject,
    from_address: quoteDisplayName(input.from),
    reply_to: input.replyTo ? quoteDisplayName(input.replyTo) : null,
    sending_domain: domain === null ? null : domainKey(domain),
    tags,
    rate_per_second: input.ratePerSecond ?? null,
    max_concurrency: input.maxConcurrency ?? null,
    priority: input.priority ?? 0,
    unknown_policy: input.unknownPolicy ?? 'reconcile',
    scheduled_at: null,
    started_at: null,
    finished_at: null,
  };
  const probe = {
    ...values,
    id: 0,
    status: 'draft' as const,
    claim_cursor: 0,
    list_exhausted: false,
    created_at: new Date(),
    updated_at: new Date(),
    waiting_reason: null,
    waiting_until: null,
    waiting_detail: null,
    paused_reason: null,
    details_purged_at: null,
  };
  await checkTemplatesOrThrow(renderSpecFor(probe, config, templatesDir(), 'check'));
  return insertCampaign(db.kysely, values);
}

export async function checkTemplatesOrThrow(spec: Parameters<typeof checkCampaignTemplates>[0]): Promise<void> {
  try {
    await checkCampaignTemplates(spec);
  } catch (err) {
    throw new UserError(`template error: ${(err as Error).message}`);
  }
}

function checkOneLine(option: string, value: string): void {
  // JSON.stringify shows the breaks as \r and \n instead of printing them.
  if (hasLineBreak(value)) throw new UserError(`${option} ${JSON.stringify(value)} ${LINE_BREAK_MESSAGE}`);
}

function checkAddress(option: string, value: string): void {
  if (!isSenderAddress(value)) throw new UserError(`${option} '${value}' is not a valid address`);
}
