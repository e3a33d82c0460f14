import type { FormField } from './multipart.js';

/**
 * A message request body for Mailgun's messages endpoint, read back: what the provider
 * receives (form fields `from`, `to`, `subject`, `html`, `text`, `h:*` headers, `o:*` options,
 * `v:*` variables) turned into the message it builds from them.
 */
export interface DecodedMessage {
  subject: string;
  html: string;
  text: string;
  /**
   * The message's headers as Mailgun writes them: From, To, then each `h:` header, one
   * X-Mailgun-Tag per `o:tag`, and the `v:` variables as X-Mailgun-Variables (JSON).
   */
  headers: Array<[name: string, value: string]>;
}

/**
 * Decodes a `multipart/form-data` request body with the platform's own parser (undici's
 * Response.formData), so no hand-written reader stands between what was sent and what is shown.
 */
export async function decodeMessageBody(body: Uint8Array, contentType: string): Promise<DecodedMessage> {
  const form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  const fields: FormField[] = [];
  for (const [name, value] of form.entries()) {
    if (typeof value !== 'string') throw new Error(`message body field '${name}' is a file; Herald sends none`);
    fields.push([name, value]);
  }
  return messageOf(fields);
}

function messageOf(fields: readonly FormField[]): DecodedMessage {
  const one = (name: string): string => fields.find(([n]) => n === name)?.[1] ?? '';
  const headers: Array<[string, string]> = [];
  for (const name of ['from', 'to']) {
    const value = one(name);
    if (value) headers.push([name === 'from' ? 'From' : 'To', value]);
  }
  for (const [name, value] of fields) if (name.startsWith('h:')) headers.push([name.slice(2), value]);
  for (const [name, value] of fields) if (name === 'o:tag') headers.push(['X-Mailgun-Tag', value]);
  const variables = fields.filter(([name]) => name.startsWith('v:'));
  if (variables.length > 0) headers.push(['X-Mailgun-Variables', JSON.stringify(Object.fromEntries(variables.map(([n, v]) => [n.slice(2), v])))]);
  return { subject: one('subject'), html: one('html'), text: one('text'), headers };
}

/**
 * The message as an RFC 5322 file (.eml): multipart/alternative with the text and HTML parts
 * and the headers Mailgun would add, built by nodemailer's MIME composer (header encoding,
 * line folding and transfer encodings are its job). Message-ID and Date are the caller's: a
 * real send gets them from the provider.
 */
export async function toRfc822(message: DecodedMessage, envelope: { messageId: string; date: Date }): Promise<Buffer> {
  const extra: Array<{ key: string; value: string | { prepared: true; value: string } }> = [];
  let from = '';
  let to = '';
  let replyTo: string | undefined;
  for (const [name, value] of message.headers) {
    const lower = name.toLowerCase();
    if (lower === 'from') from = value;
    else if (lower === 'to') to = value;
    else if (lower === 'reply-to') replyTo = value;
    // Mailgun writes its variables as plain JSON; the composer would encode the quotes (RFC 2047).
    else if (name === 'X-Mailgun-Variables' && /^[\x20-\x7e]*$/.test(value)) extra.push({ key: name, value: { prepared: true, value } });
    else extra.push({ key: name, value });
  }
  // Loaded on first use: only a preview as .eml needs it, not every CLI process that could.
  const { default: MailComposer } = await import('nodemailer/lib/mail-composer');
  const composer = new MailComposer({
    from,
    to,
    ...(replyTo ? { replyTo } : {}),
    subject: message.subject,
    text: message.text,
    html: message.html,
    headers: extra,
    messageId: envelope.messageId,
    date: envelope.date,
  });
  return composer.compile().build();
}
