export type NormalizedEmail = { ok: true; email: string } | { ok: false; reason: string };

const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Trims, lowercases the domain (the local part is case-sensitive by the RFC, and kept), and
 * checks a practical address syntax: what providers accept, not every RFC 5322 corner.
 */
export function normalizeEmail(raw: string | null | undefined): NormalizedEmail {
  const value = (raw ?? '').trim();
  if (value === '') return { ok: false, reason: 'missing email' };
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return { ok: false, reason: `invalid email: '${value}' needs a local part, one @ and a domain` };
  const local = value.slice(0, at);
  const domain = value.slice(at + 1).toLowerCase();
  if (local.includes('@')) return { ok: false, reason: `invalid email: '${value}' has more than one @` };
  if (local.length > 64) return { ok: false, reason: `invalid email: local part of '${value}' is longer than 64 characters` };
  if (!LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return { ok: false, reason: `invalid email: '${value}' has characters not allowed before the @` };
  }
  const labels = domain.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1]!)) {
    return { ok: false, reason: `invalid email: '${domain}' is not a valid domain` };
  }
  const email = `${local}@${domain}`;
  if (email.length > 254) return { ok: false, reason: `invalid email: '${value}' is longer than 254 characters` };
  return { ok: true, email };
}

/**
 * The key an address is matched by: trimmed and lower-cased as a whole. Suppressions are
 * stored this way and recipients are matched against them by `lower(email)`, so a suppression
 * written through any path (CLI, API, CSV, webhook, unsubscribe link) holds whatever case or
 * surrounding spaces the address arrived with. The local part is case-sensitive by the RFC,
 * but no provider Herald sends through treats it so, and a suppression must err on the side
 * of not sending.
 */
export function emailKey(raw: string): string {
  return raw.trim().toLowerCase();
}

/** A sending domain name as stored and looked up: trimmed, lower-cased (DNS is case-blind). */
export function domainKey(raw: string): string {
  return raw.trim().toLowerCase();
}
