import type http from 'node:http';

/** What a route answers; the server writes it. */
export interface Reply {
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

/** An error that is the client's to fix; it becomes a JSON answer with this status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Which fields of the request were wrong, when known. */
    readonly fields?: Array<{ field: string; message: string }>,
    /** Extra response headers (e.g. `connection: close` after a body left unread). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const json = (status: number, value: unknown, headers?: Record<string, string>): Reply => ({
  status,
  contentType: 'application/json; charset=utf-8',
  body: JSON.stringify(value),
  ...(headers ? { headers } : {}),
});

export const text = (status: number, body: string): Reply => ({ status, contentType: 'text/plain; charset=utf-8', body });

export const html = (status: number, body: string): Reply => ({ status, contentType: 'text/html; charset=utf-8', body });

/** Reads the whole body, refusing more than `limit` bytes with a 413. */
export async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function readJson(req: http.IncomingMessage, limit = 1024 * 1024): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, `expected content-type application/json, got '${type || 'none'}'`);
  const raw = (await readBody(req, limit)).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new HttpError(400, `request body is not valid JSON: ${(err as Error).message}`);
  }
  // Postgres cannot store a NUL in text: the client's mistake (400), not a failed insert (500).
  if (raw.includes('\\u0000') && hasNul(value)) throw new HttpError(400, 'request body contains a NUL character (\\u0000)');
  return value;
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(hasNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => k.includes('\0') || hasNul(v));
  return false;
}
