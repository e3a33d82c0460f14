import type { Config } from '../app/config.js';
import type { Db } from '../db/connect.js';
import type { UnknownPolicy } from '../db/schema.js';
import { domainKey, normalizeEmail } from '../domain/email.js';
import { UserError } from '../domain/errors.js';
import { templatesDir } from '../app/paths.js';
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
  // Mailgun documents 3 tags per message; more are silently dropped or refused.
  if (tags.length > 3) throw new UserError(`--tag: at most 3 tags per campaign, got ${tags.length}`);
  for (const tag of tags) {
    if (!/^[\x20-\x7e]{1,128}$/.test(tag)) throw new UserError(`--tag '${tag}': tags are 1-128 printable ASCII characters`);
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
  const probe = { ...values, id: 0, status: 'draft' as const, claim_cursor: 0, list_exhausted: false, created_at: new Date(), updated_at: new Date(), waiting_reason: null, waiting_until: null, waiting_detail: null, paused_reason: null };
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

/**
 * CR or LF in a header value would end the header and start another (`Bcc:`, a second
 * `Subject:`, a body): the subject, sender, reply-to and tags all become message headers.
 */
export function hasLineBreak(value: string): boolean {
  return /[\r\n]/.test(value);
}

/** What a header value with a line break is told, after the field's name. */
export const LINE_BREAK_MESSAGE = 'must be one line: a line break (CR or LF) would start a new mail header';

function checkOneLine(option: string, value: string): void {
  // JSON.stringify shows the breaks as \r and \n instead of printing them.
  if (hasLineBreak(value)) throw new UserError(`${option} ${JSON.stringify(value)} ${LINE_BREAK_MESSAGE}`);
}

/** Accepts `addr@example.com` or `Name <addr@example.com>`. */
export function isSenderAddress(value: string): boolean {
  const match = /^\s*(?:[^<>]*<([^<>]+)>|([^<>\s]+))\s*$/.exec(value);
  const address = match?.[1] ?? match?.[2];
  return address !== undefined && normalizeEmail(address).ok;
}

/**
 * `Shop, Inc <news@example.com>` as RFC 5322 wants it: a display name with anything but
 * letters, digits, spaces and the other atom characters is quoted, or its comma would make
 * the header a list of two addresses. Already quoted names and bare addresses are kept.
 */
export function quoteDisplayName(value: string): string {
  const match = /^\s*([^<>]*?)\s*<([^<>]+)>\s*$/.exec(value);
  if (!match) return value;
  const [, name, address] = match as unknown as [string, string, string];
  if (name === '' || /^"(?:[^"\\]|\\.)*"$/.test(name) || /^[\w !#$%&'*+\-/=?^`{|}~]*$/.test(name)) return value;
  return `"${name.replace(/["\\]/g, '\\$&')}" <${address}>`;
}

function checkAddress(option: string, value: string): void {
  if (!isSenderAddress(value)) throw new UserError(`${option} '${value}' is not a valid address`);
}

export function isDomainName(value: string): boolean {
  return /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(value);
}
