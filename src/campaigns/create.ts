import type { Config } from '../config/config.js';
import type { Db } from '../db/connect.js';
import type { NewCampaign, UnknownPolicy } from '../db/schema.js';
import { domainKey } from '../domain/email.js';
import {
  hasLineBreak,
  isDomainName,
  isSenderAddress,
  isTag,
  LINE_BREAK_MESSAGE,
  MAX_TAGS,
  quoteDisplayName,
  SENDER_ADDRESS_RULE,
  TAG_RULE,
} from '../domain/validation.js';
import { UserError } from '../domain/errors.js';
import { templatesDir } from '../config/paths.js';
import type { ContentSnapshot, ContentSources } from '../domain/content.js';
import { checkContent, templateUserError } from '../sender/render/compile.js';
import { buildContent } from '../sender/render/content.js';
import { insertCampaign } from '../sql/insertCampaign.js';
import { resolveAudience } from './audience.js';

export interface CreateCampaignInput {
  name: string;
  /** The list to send to (the API's original field); joins `lists`. */
  list?: string | undefined;
  /** Lists to send to: their union, each recipient once (docs/audience.md). */
  lists?: readonly string[] | undefined;
  /** Lists whose members are left out. */
  excludeLists?: readonly string[] | undefined;
  /** A saved segment filtering the audience; exclusive with `where`. */
  segment?: string | undefined;
  /** Segment text filtering the audience (docs/segments.md); exclusive with `segment`. */
  where?: string | undefined;
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

/** A campaign's row and audience, checked and ready to store. */
export interface PreparedCampaign {
  values: Omit<NewCampaign, 'status' | 'scheduled_at' | 'started_at' | 'finished_at'>;
  audience: { include: number[]; exclude: number[] };
}

/**
 * Validates and stores a draft campaign. Templates are compiled now so errors surface early;
 * so is the audience: every list and segment name must exist and the --where text must parse.
 */
export async function createCampaign(db: Db, config: Config, input: CreateCampaignInput): Promise<number> {
  const { values, audience } = await prepareCampaign(db, config, input);
  try {
    return await insertCampaign(db.kysely, { ...values, scheduled_at: null, started_at: null, finished_at: null }, audience);
  } catch (err) {
    throw audienceRace(err);
  }
}

/**
 * The checks a draft passes when it is created and each time it is edited (editDraft.ts):
 * every value, the audience's names and text, and the templates compiled. Each error names
 * the API field it is about (the CLI shows the message, which names its option).
 */
export async function prepareCampaign(db: Db, config: Config, input: CreateCampaignInput): Promise<PreparedCampaign> {
  const lists = [...(input.list === undefined ? [] : [input.list]), ...(input.lists ?? [])];
  if (lists.length === 0) throw new UserError('name at least one list to send to (--list)', [{ field: 'lists', message: 'at least one list is required' }]);
  const audience = await resolveAudience(db, { lists, excludeLists: input.excludeLists, segment: input.segment, where: input.where });
  const listId = audience.include![0]!.id;
  checkOneLine('--subject', 'subject', input.subject);
  checkOneLine('--from', 'from', input.from);
  if (input.replyTo) checkOneLine('--reply-to', 'replyTo', input.replyTo);
  for (const tag of input.tags ?? []) checkOneLine('--tag', 'tags', tag);
  checkAddress('--from', 'from', input.from);
  if (input.replyTo) checkAddress('--reply-to', 'replyTo', input.replyTo);
  const domain = input.domain ?? config.mailgun.domain ?? null;
  if (domain !== null && !isDomainName(domain))
    throw new UserError(`--domain '${domain}' is not a domain name`, [{ field: 'domain', message: 'expected a domain name' }]);
  const tags = input.tags ?? [];
  if (tags.length > MAX_TAGS)
    throw new UserError(`--tag: at most ${MAX_TAGS} tags per campaign, got ${tags.length}`, [{ field: 'tags', message: `at most ${MAX_TAGS} tags` }]);
  for (const tag of tags) {
    if (!isTag(tag)) throw new UserError(`--tag '${tag}': tags are ${TAG_RULE}`, [{ field: 'tags', message: `'${tag}': tags are ${TAG_RULE}` }]);
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
    segment_id: audience.segment?.id ?? null,
    where_text: audience.where,
  };
  await checkTemplatesOrThrow(() => buildContent(templatesDir(), input.template, input.subject));
  return { values, audience: { include: audience.include!.map((l) => l.id), exclude: audience.exclude.map((l) => l.id) } };
}

/** A list or segment removed between the checks and the write (a foreign key refused it). */
export function audienceRace(err: unknown): unknown {
  if ((err as { code?: string }).code === '23503')
    return new UserError(`the audience changed while the campaign was saved (a list or segment went away); try again`);
  return err;
}

/**
 * Makes (or reads) a campaign's content and compiles all of it: a template error refuses the
 * command with `template error: file:line:col: …` and (for the API) names the field:
 * `subject` when the subject is what failed, else `template`. Returns the content checked.
 */
export async function checkTemplatesOrThrow(content: () => Promise<ContentSnapshot>): Promise<ContentSnapshot> {
  let made: ContentSnapshot;
  try {
    made = await content();
  } catch (err) {
    throw templateUserError(err);
  }
  checkSourcesOrThrow(made.sources);
  return made;
}

/** Every template of the content compiles (checkContent), or the user's error naming file and line. */
export function checkSourcesOrThrow(sources: ContentSources): void {
  try {
    checkContent(sources);
  } catch (err) {
    throw templateUserError(err);
  }
}

function checkOneLine(option: string, field: string, value: string): void {
  // JSON.stringify shows the breaks as \r and \n instead of printing them.
  if (hasLineBreak(value)) throw new UserError(`${option} ${JSON.stringify(value)} ${LINE_BREAK_MESSAGE}`, [{ field, message: LINE_BREAK_MESSAGE }]);
}

function checkAddress(option: string, field: string, value: string): void {
  if (!isSenderAddress(value)) throw new UserError(`${option} '${value}' is not a valid address`, [{ field, message: SENDER_ADDRESS_RULE }]);
}
