import type { Db } from '../db/connect.js';
import type { Campaign } from '../db/schema.js';
import { missingAttributeWarning, parseSegmentOrThrow } from '../domain/audience.js';
import { NotFoundError, UserError } from '../domain/errors.js';
import { attributesOf, type SegmentAst } from '../domain/segment/index.js';
import { audienceCount } from '../sql/audienceCount.js';
import { audiencePage, type AudienceSource } from '../sql/audiencePage.js';
import type { AudienceDefinition } from '../sql/audienceQuery.js';
import { campaignAudience, type NamedList } from '../sql/campaignAudience.js';
import { countListMembers } from '../sql/countListMembers.js';
import { findListsByName } from '../sql/findListsByName.js';
import { findSegment } from '../sql/findSegment.js';
import { missingAttributes } from '../sql/missingAttributes.js';

/** An audience as a person or client asks for it: list names, a segment name or text. */
export interface AudienceInput {
  /** Lists to send to; none (or an empty array) means every recipient (previews only: a campaign needs one). */
  lists?: readonly string[] | undefined;
  excludeLists?: readonly string[] | undefined;
  /** A saved segment's name; exclusive with `where`. */
  segment?: string | undefined;
  /** Segment text (docs/segments.md); exclusive with `segment`. */
  where?: string | undefined;
}

/** An audience input checked against the database: every name found, the text parsed. */
export interface ResolvedAudience {
  include: NamedList[] | null;
  exclude: NamedList[];
  segment: { id: number; name: string; expression: string } | null;
  where: string | null;
  ast: SegmentAst | null;
}

/** The CLI's words for each part of the input, and the API's field names. */
const NAMES = {
  lists: { label: '--list', field: 'lists' },
  excludeLists: { label: '--exclude-list', field: 'excludeLists' },
  segment: { label: '--segment', field: 'segment' },
  where: { label: '--where', field: 'where' },
} as const;

/**
 * Checks an audience input: every list and the segment exist (an unknown name is named in
 * the error), no list is both included and excluded, at most one of segment and where, and the
 * where text parses (its error gives the position).
 */
export async function resolveAudience(db: Db, input: AudienceInput): Promise<ResolvedAudience> {
  const include = input.lists === undefined || input.lists.length === 0 ? null : [...new Set(input.lists)];
  const exclude = [...new Set(input.excludeLists ?? [])];
  if (input.segment !== undefined && input.where !== undefined) {
    throw new UserError(`${NAMES.segment.label} and ${NAMES.where.label} cannot be used together: name a saved segment, or give the text`, [
      { field: NAMES.where.field, message: 'cannot be used together with segment' },
    ]);
  }
  const both = exclude.filter((name) => include?.includes(name));
  if (both.length > 0) {
    throw new UserError(`list '${both[0]}' is both included (${NAMES.lists.label}) and excluded (${NAMES.excludeLists.label})`, [
      { field: NAMES.excludeLists.field, message: `list '${both[0]}' is also included` },
    ]);
  }
  const ids = await findListsByName(db.kysely, [...(include ?? []), ...exclude]);
  const named = (names: string[], part: 'lists' | 'excludeLists'): NamedList[] => {
    const unknown = names.filter((name) => !ids.has(name));
    if (unknown.length > 0) {
      const quoted = unknown.map((name) => `'${name}'`).join(', ');
      const what = `${part === 'excludeLists' ? 'excluded ' : ''}${unknown.length === 1 ? `list ${quoted} does not exist` : `lists ${quoted} do not exist`}`;
      const hint = unknown.length === 1 && part === 'lists' ? `create it with: herald lists create ${unknown[0]}` : 'herald lists ls shows the lists';
      throw new UserError(`${what} (${hint})`, [{ field: NAMES[part].field, message: what }]);
    }
    return names.map((name) => ({ id: ids.get(name)!, name }));
  };
  const includeLists = include === null ? null : named(include, 'lists');
  const excludeLists = named(exclude, 'excludeLists');
  let segment: ResolvedAudience['segment'] = null;
  let ast: SegmentAst | null = null;
  if (input.segment !== undefined) {
    const found = await findSegment(db.kysely, input.segment);
    if (!found) {
      throw new UserError(`segment '${input.segment}' does not exist (herald segments ls shows the saved segments)`, [
        { field: NAMES.segment.field, message: `segment '${input.segment}' does not exist` },
      ]);
    }
    segment = { id: found.id, name: found.name, expression: found.expression };
    ast = parseSegmentOrThrow(found.expression, `segment '${found.name}'`, NAMES.segment.field);
  }
  if (input.where !== undefined) ast = parseSegmentOrThrow(input.where, NAMES.where.label, NAMES.where.field);
  return { include: includeLists, exclude: excludeLists, segment, where: input.where ?? null, ast };
}

export function definitionOf(a: Pick<ResolvedAudience, 'include' | 'exclude' | 'ast'>): AudienceDefinition {
  return { include: a.include?.map((l) => l.id) ?? null, exclude: a.exclude.map((l) => l.id), segment: a.ast };
}

/** Samples shown with a preview. */
export const PREVIEW_SAMPLES = 10;

export interface AudiencePreview {
  /** Recipients it would be sent to: after exclusions and suppressions. */
  count: number;
  /** Recipients in it whose address is suppressed (recorded as such, never sent). */
  suppressed: number;
  samples: Array<{ id: number; email: string; name: string | null; attributes: Record<string, unknown> }>;
  /** Attributes the segment names that no recipient has, and the like. */
  warnings: string[];
}

/** The audience size now (after exclusions and suppressions), a few recipients in it, and warnings. */
export async function previewAudience(db: Db, input: AudienceInput, now = new Date()): Promise<AudiencePreview> {
  const resolved = await resolveAudience(db, input);
  const def = definitionOf(resolved);
  const [counts, samples, missing] = await Promise.all([
    audienceCount(db.kysely, def, now),
    audiencePage(db.kysely, { definition: def, now }, 0, PREVIEW_SAMPLES, { withoutSuppressed: true }),
    missingAttributes(db.kysely, resolved.ast ? attributesOf(resolved.ast) : []),
  ]);
  return {
    count: counts.count,
    suppressed: counts.suppressed,
    samples: samples.map((r) => ({ id: r.recipientId, email: r.email, name: r.name, attributes: r.attributes })),
    warnings: missing.map(missingAttributeWarning),
  };
}

/** A campaign's audience as status, the list and the API show it. */
export interface AudienceView {
  lists: string[];
  excludeLists: string[];
  /** The saved segment it names (null once that segment was removed after the start). */
  segment: string | null;
  /** The ad-hoc text, or (once started) the expression it was fixed with. */
  where: string | null;
  /** Recipients in it (suppressed ones included); null before the start when that takes a count. */
  size: number | null;
  /** True once the first start fixed it (docs/audience.md). */
  fixed: boolean;
}

export async function audienceView(db: Db, campaign: Pick<Campaign, 'id'>): Promise<AudienceView> {
  const row = await campaignAudience(db.kysely, campaign.id);
  if (!row) throw new NotFoundError(`campaign ${campaign.id} does not exist`);
  let size = row.size;
  // Before the start, a plain one-list audience is that list; anything more takes a count
  // (the preview), too slow to run on every status read.
  if (size === null && row.include.length === 1 && row.exclude.length === 0 && row.segment === null && row.whereText === null) {
    size = await countListMembers(db.kysely, row.include[0]!.id);
  }
  return {
    lists: row.include.map((l) => l.name),
    excludeLists: row.exclude.map((l) => l.name),
    segment: row.segment?.name ?? null,
    where: row.whereText ?? null,
    size,
    fixed: row.size !== null,
  };
}

/** Where a campaign's recipients come from now (fixed, or its definition), resolved once for many pages. */
export async function campaignSource(db: Db, campaign: Campaign, now = new Date()): Promise<AudienceSource> {
  if (campaign.audience_size !== null) return { campaignId: campaign.id };
  const row = await campaignAudience(db.kysely, campaign.id);
  if (!row) throw new NotFoundError(`campaign ${campaign.id} does not exist`);
  const text = row.whereText ?? row.segment?.expression ?? null;
  const ast = text === null ? null : parseSegmentOrThrow(text, row.whereText !== null ? '--where' : `segment '${row.segment!.name}'`, 'where');
  return { definition: { include: row.include.map((l) => l.id), exclude: row.exclude.map((l) => l.id), segment: ast, campaignId: campaign.id }, now };
}
