import { z } from 'zod';
import { normalizeEmail } from './email.js';

// One rule per kind of value, shared by the CLI (campaigns/create.ts, cli/args.ts) and the HTTP API's schemas.

/**
 * CR or LF in a header value would end the header and start another (`Bcc:`, a second
 * `Subject:`, a body): the subject, sender, reply-to and tags all become message headers.
 */
export function hasLineBreak(value: string): boolean {
  return /[\r\n]/.test(value);
}

/** What a header value with a line break is told, after the field's name. */
export const LINE_BREAK_MESSAGE = 'must be one line: a line break (CR or LF) would start a new mail header';

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

export function isDomainName(value: string): boolean {
  return /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i.test(value);
}

/** Mailgun documents 3 tags per message; more are silently dropped or refused. */
export const MAX_TAGS = 3;

/** What a tag must be, after "tags are" or on its own. */
export const TAG_RULE = '1-128 printable ASCII characters';

export function isTag(value: string): boolean {
  return /^[\x20-\x7e]{1,128}$/.test(value);
}

export const TEMPLATE_NAME_RULE = 'a template folder name (letters, digits, - and _)';

export function isTemplateName(value: string): boolean {
  return /^[A-Za-z0-9_-]+$/.test(value);
}

export const SENDER_ADDRESS_RULE = 'expected addr@domain or "Name <addr@domain>"';

/** A campaign id as typed (CLI argument, URL segment): a positive whole number, else undefined. */
export function parseCampaignId(value: string): number | undefined {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) return undefined;
  return n;
}

/** Zod forms of the same rules, for request schemas. */
const oneLine = { message: LINE_BREAK_MESSAGE, abort: true };
export const oneLineSchema = z.string().refine((v) => !hasLineBreak(v), oneLine);
export const senderAddressSchema = oneLineSchema.refine(isSenderAddress, { message: SENDER_ADDRESS_RULE });
export const domainNameSchema = z.string().refine(isDomainName, { message: 'expected a domain name' });
export const tagSchema = oneLineSchema.refine(isTag, TAG_RULE);
export const tagsSchema = z.array(tagSchema).max(MAX_TAGS);
export const templateNameSchema = z.string().refine(isTemplateName, TEMPLATE_NAME_RULE);
