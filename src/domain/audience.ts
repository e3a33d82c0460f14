import { UserError } from './errors.js';
import { parseSegment, type SegmentAst, type SegmentError } from './segment/index.js';

/** Segment names appear in URLs and commands: letters, digits, `.`, `_` and `-`, up to 100. */
export const SEGMENT_NAME_RULE = 'letters, digits, ".", "_" and "-" (starting with a letter or digit), at most 100 characters';
const SEGMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function isSegmentName(name: string): boolean {
  return SEGMENT_NAME.test(name);
}

/**
 * Parses segment text or throws a UserError naming `label` (the option or field that held
 * it) and where the text goes wrong; `field` is the API's name for it.
 */
export function parseSegmentOrThrow(text: string, label: string, field: string): SegmentAst {
  const parsed = parseSegment(text);
  if (parsed.ok) return parsed.segment;
  throw segmentSyntaxError(text, parsed.error, label, field);
}

/** A segment's syntax error as one line: what was wrong, at which line and column, and a view of the spot. */
export function segmentSyntaxError(text: string, error: SegmentError, label: string, field: string): UserError {
  // The parser's message starts with `at LINE:COLUMN:`.
  const message = error.message;
  return new UserError(`${label}: ${message} — ${excerpt(text, error.position)}`, [
    { field, message, position: error.position, line: error.line, column: error.column },
  ]);
}

/** The text around `position`, with the spot marked, on one line. */
function excerpt(text: string, position: number): string {
  const start = Math.max(0, position - 30);
  const end = Math.min(text.length, position + 30);
  const show = (s: string): string => s.replace(/\s/g, ' ');
  return `${start > 0 ? '…' : ''}${show(text.slice(start, position))} ⟶ ${show(text.slice(position, end))}${end < text.length ? '…' : ''}`;
}

/** What the count preview says about attributes the segment names that no recipient has. */
export function missingAttributeWarning(attribute: string): string {
  return `no recipient has an attribute '${attribute}' (check its spelling): a comparison with it matches nobody`;
}
