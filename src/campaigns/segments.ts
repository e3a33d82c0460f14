import type { Db } from '../db/connect.js';
import { isSegmentName, parseSegmentOrThrow, SEGMENT_NAME_RULE } from '../domain/audience.js';
import { ConflictError, NotFoundError, UserError } from '../domain/errors.js';
import { findSegment, type SegmentRow } from '../sql/findSegment.js';
import { insertSegment } from '../sql/insertSegment.js';
import { listSegments, type SegmentSummary } from '../sql/listSegments.js';
import { removeSegment } from '../sql/removeSegment.js';
import { segmentCampaigns } from '../sql/segmentCampaigns.js';

export type { SegmentSummary };

/** Saves a segment by name after checking its text parses (errors give the position). */
export async function createSegment(db: Db, name: string, expression: string): Promise<{ id: number; name: string; expression: string }> {
  if (!isSegmentName(name)) {
    throw new UserError(`segment name '${name}': use ${SEGMENT_NAME_RULE}`, [{ field: 'name', message: `use ${SEGMENT_NAME_RULE}` }]);
  }
  parseSegmentOrThrow(expression, '--where', 'where');
  const id = await insertSegment(db.kysely, name, expression);
  if (id === null) throw new ConflictError(`segment '${name}' already exists (herald segments show ${name})`);
  return { id, name, expression };
}

export function listSavedSegments(db: Db): Promise<SegmentSummary[]> {
  return listSegments(db.kysely);
}

export interface SegmentDetails {
  name: string;
  expression: string;
  createdAt: string;
  /** Campaigns naming it, newest first; `fixed` ones took their audience at their start. */
  campaigns: Array<{ id: number; name: string; status: string; fixed: boolean }>;
}

export async function showSegment(db: Db, name: string): Promise<SegmentDetails> {
  const segment = await getSegmentOrThrow(db, name);
  return {
    name: segment.name,
    expression: segment.expression,
    createdAt: segment.createdAt.toISOString(),
    campaigns: await segmentCampaigns(db.kysely, segment.id),
  };
}

export async function getSegmentOrThrow(db: Db, name: string): Promise<SegmentRow> {
  const segment = await findSegment(db.kysely, name);
  if (!segment) throw new NotFoundError(`segment '${name}' does not exist (herald segments ls shows the saved segments)`);
  return segment;
}

/**
 * Removes a saved segment, refusing while a campaign that has not started yet (draft,
 * scheduled) names it: that campaign would lose its filter. Started campaigns keep the
 * expression their audience was fixed with.
 */
export async function deleteSegment(db: Db, name: string): Promise<void> {
  const outcome = await removeSegment(db.kysely, name);
  if (outcome.state === 'missing') throw new NotFoundError(`segment '${name}' does not exist (herald segments ls shows the saved segments)`);
  if (outcome.state === 'in_use') {
    const which = outcome.campaigns.map((c) => `${c.id} "${c.name}" (${c.status})`).join(', ');
    throw new ConflictError(
      `segment '${name}' is used by campaign${outcome.campaigns.length === 1 ? '' : 's'} ${which}, which ${outcome.campaigns.length === 1 ? 'has' : 'have'} not started: cancel ${outcome.campaigns.length === 1 ? 'it' : 'them'} first, or keep the segment`,
    );
  }
}
