import { sql, type Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';

/** Records webhook tokens; returns those that were new (the others are replays). */
export async function rememberWebhookTokens(trx: Transaction<Database>, tokens: readonly string[]): Promise<Set<string>> {
  if (tokens.length === 0) return new Set();
  const rows = await sql<{ token: string }>`
    insert into webhook_tokens (token) select unnest(${[...tokens]}::text[]) on conflict do nothing returning token
  `.execute(trx);
  return new Set(rows.rows.map((r) => r.token));
}
