import { upsertRecipients, type UpsertSummary } from '../../campaigns/recipients.js';
import { parseRecipientItems, parseRecipientPatch, type AttributeChange } from '../../domain/recipientInput.js';
import { HttpError } from '../errors.js';
import type { ApiContext } from './context.js';

/**
 * POST /api/v1/recipients: every valid item is stored; the answer lists the refused ones by
 * index and field. Only when none was valid is the answer a 400, naming each problem as a
 * field (`2.email`, or `email` for a single object).
 */
export async function upsertFromBody({ db }: ApiContext, body: unknown): Promise<UpsertSummary> {
  const many = Array.isArray(body);
  const { items, refused } = parseRecipientItems(many ? body : [body]);
  const summary = await upsertRecipients(db, items, refused);
  if (summary.results.length === 0) {
    const fields = summary.refused.map((r) => ({ field: many ? `${r.index}.${r.field}` : r.field, message: r.message }));
    throw new HttpError(400, `no recipient stored: ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);
  }
  return summary;
}

/** The change a PATCH body asks for (already validated by its schema; parsed again into the domain's form). */
export function patchOf(body: unknown): AttributeChange {
  const parsed = parseRecipientPatch(body);
  if (!parsed.ok) throw new HttpError(400, `invalid request body: ${parsed.fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, parsed.fields);
  return parsed.change;
}
