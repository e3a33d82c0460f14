import { hash } from 'node:crypto';
import { emailKey } from './email.js';

// What erasing a person means in data (docs/operations.md, "Erasing a person").

/** An erased recipient's address column: no @, so it can be neither mailed nor imported, and unique by its id. */
export const ERASED_PREFIX = 'erased:';

export function erasedPlaceholder(recipientId: number): string {
  return `${ERASED_PREFIX}${recipientId}`;
}

export function isErasedPlaceholder(email: string): boolean {
  return email.startsWith(ERASED_PREFIX);
}

/** What replaces the address where it is cut out of text that stays (error messages, links). */
export const ERASED_MARK = '[erased]';

/**
 * The keyed hash an erased address is remembered by: SHA-256 of the installation's erasure
 * key and the address's key (trimmed, lower-cased, as suppressions match). It answers "was
 * this address erased?" for someone who has the address, and nothing to anyone who has not
 * (short of guessing addresses with the key, which lives in the same database: it is a
 * pseudonym, not an anonymisation, and the docs say so). The key is fixed-length and set
 * apart from the address, so a plain hash of the two serves as well as an HMAC for this
 * equality lookup, at a fifth of its cost per row of an import.
 */
export function erasedAddressHash(key: string, email: string): string {
  return hash('sha256', `${key}\0${emailKey(email)}`, 'hex');
}

/**
 * A case-insensitive regular expression (Postgres and JavaScript syntax alike) that matches
 * the address literally, as written and percent-encoded (as it appears in a link's query).
 * Every character that means something in a pattern is escaped, so the address is only ever
 * matched as text; it is bound as a parameter, never spliced into SQL.
 */
export function addressPattern(email: string): string {
  const key = emailKey(email);
  const forms = [...new Set([key, encodeURIComponent(key).toLowerCase()])];
  return forms.map((f) => f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
}
