/** An error that is the client's to fix; it becomes a JSON answer `{ error, fields? }` with this status. */
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

/** Postgres cannot store a NUL in text: the client's mistake (400), not a failed insert (500). */
export function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(hasNul);
  if (value && typeof value === 'object') return Object.entries(value).some(([k, v]) => k.includes('\0') || hasNul(v));
  return false;
}
