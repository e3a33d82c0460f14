import { z } from 'zod';
import { normalizeEmail } from './email.js';

// Recipients given as JSON (API bodies, `herald recipients add --json`) and attribute changes
// (`PATCH`, `herald recipients update`): one set of rules, so every path stores the same
// thing a CSV import would (docs/http-api.md, "Recipients").

/** Items per API request; larger sets go in several requests or through a CSV import. */
export const MAX_ITEMS = 1000;
export const MAX_NAME = 1000;
export const MAX_ATTRIBUTE_VALUE = 10_000;
export const MAX_ATTRIBUTES = 200;
export const MAX_LISTS = 20;

/**
 * Why an attribute name cannot be used, or null. Names are what CSV headers would be: a
 * column called `email` or `name` would be read back as the address or the name, and the
 * import trims header names, so names with spaces at either end would not survive an export
 * and re-import.
 */
export function attributeNameProblem(key: string): string | null {
  if (key.length === 0 || key.length > 100) return 'attribute names are 1 to 100 characters';
  if (key !== key.trim()) return `attribute name ${JSON.stringify(key)} has spaces at an end (a CSV header would lose them)`;
  if (/[\x00-\x1f\x7f]/.test(key)) return `attribute name ${JSON.stringify(key)} has a control character`;
  const lower = key.toLowerCase();
  if (lower === 'email' || lower === 'name') return `'${key}' is a column of its own, not an attribute`;
  return null;
}

/** Attribute values are text, as CSV columns are; numbers and booleans are kept as their text. */
const attributeValue = z.union([z.string().max(MAX_ATTRIBUTE_VALUE), z.number(), z.boolean()], {
  error: 'expected text, a number or true/false (or null to remove it)',
});

const attributes = z.record(z.string(), attributeValue.nullable()).superRefine((rec, ctx) => {
  const keys = Object.keys(rec);
  if (keys.length > MAX_ATTRIBUTES) ctx.addIssue({ code: 'custom', message: `at most ${MAX_ATTRIBUTES} attributes at once` });
  for (const key of keys) {
    const problem = attributeNameProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem });
  }
});

const name = z.string().max(MAX_NAME).nullable();

const email = z.string().superRefine((raw, ctx) => {
  const n = normalizeEmail(raw);
  if (!n.ok) ctx.addIssue({ code: 'custom', message: n.reason });
});

export const recipientItemSchema = z
  .object({
    email,
    name: name.optional().describe('null clears it; left out: kept as it is'),
    attributes: attributes.optional().describe('merged into what the recipient has; a null value removes that attribute'),
    lists: z.array(z.string().min(1).max(200)).max(MAX_LISTS).optional().describe('lists to add the recipient to (they must exist)'),
  })
  .strict();

export const recipientPatchSchema = z
  .object({
    name: name.optional().describe('null clears it; left out: kept as it is'),
    attributes: attributes.optional().describe('merged into what the recipient has; a null value removes that attribute'),
  })
  .strict();

/** What to change on a recipient: `name` undefined leaves it; `set` is merged in, `unset` removed. */
export interface AttributeChange {
  name?: string | null;
  set: Record<string, string>;
  unset: string[];
}

export interface RecipientUpsert extends AttributeChange {
  /** Normalised (trimmed, domain lower-cased). */
  email: string;
  lists: string[];
}

/** A refused item: which one (its position in the request or file) and which field. */
export interface Refusal {
  index: number;
  field: string;
  message: string;
}

function change(input: { name?: string | null | undefined; attributes?: Record<string, string | number | boolean | null> | undefined }): AttributeChange {
  const set: Record<string, string> = {};
  const unset: string[] = [];
  for (const [key, value] of Object.entries(input.attributes ?? {})) {
    if (value === null) unset.push(key);
    else set[key] = String(value);
  }
  const out: AttributeChange = { set, unset };
  if (input.name !== undefined) {
    // As the import does: surrounding spaces go, and an empty name is no name.
    const trimmed = input.name?.trim() ?? null;
    out.name = trimmed === '' ? null : trimmed;
  }
  return out;
}

const fieldOf = (path: readonly PropertyKey[]): string => (path.length > 0 ? path.map(String).join('.') : '(item)');

/** Every problem of one item, with the field it is in. */
function issuesOf(error: z.ZodError): Array<{ field: string; message: string }> {
  return error.issues.map((issue) => ({
    field: issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys.join(', ') : fieldOf(issue.path),
    message: issue.code === 'unrecognized_keys' ? 'not a field of a recipient (email, name, attributes, lists)' : issue.message,
  }));
}

/**
 * Validates recipients one by one: the good ones come back normalised, each bad one as a
 * refusal naming its index and field. An address given twice is refused the second time
 * (naming the first), as a CSV import refuses a duplicate row.
 */
export function parseRecipientItems(values: readonly unknown[]): { items: Array<{ index: number; value: RecipientUpsert }>; refused: Refusal[] } {
  const items: Array<{ index: number; value: RecipientUpsert }> = [];
  const refused: Refusal[] = [];
  const seen = new Map<string, number>();
  values.forEach((raw, index) => {
    const parsed = recipientItemSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of issuesOf(parsed.error)) refused.push({ index, ...issue });
      return;
    }
    const normalized = normalizeEmail(parsed.data.email);
    const address = normalized.ok ? normalized.email : parsed.data.email;
    const key = address.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      refused.push({ index, field: 'email', message: `the same address as item ${first}` });
      return;
    }
    seen.set(key, index);
    items.push({ index, value: { email: address, lists: [...new Set(parsed.data.lists ?? [])], ...change(parsed.data) } });
  });
  return { items, refused };
}

export function parseRecipientPatch(raw: unknown): { ok: true; change: AttributeChange } | { ok: false; fields: Array<{ field: string; message: string }> } {
  const parsed = recipientPatchSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, fields: issuesOf(parsed.error) };
  return { ok: true, change: change(parsed.data) };
}

/** `key=value` from the command line; the value may hold more `=`. */
export function parseAttributeArg(arg: string): { ok: true; key: string; value: string } | { ok: false; message: string } {
  const at = arg.indexOf('=');
  if (at < 0) return { ok: false, message: `expected key=value, got '${arg}'` };
  const key = arg.slice(0, at);
  const problem = attributeNameProblem(key);
  if (problem) return { ok: false, message: problem };
  const value = arg.slice(at + 1);
  if (value.length > MAX_ATTRIBUTE_VALUE) return { ok: false, message: `the value of '${key}' is longer than ${MAX_ATTRIBUTE_VALUE} characters` };
  return { ok: true, key, value };
}
