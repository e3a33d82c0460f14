import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

/** Records a webhook token; false when it was seen before (a replay). */
export async function rememberWebhookToken(db: Kysely<Database>, token: string): Promise<boolean> {
  const result = await sql`insert into webhook_tokens (token) values (${token}) on conflict do nothing`.execute(db);
  return Number(result.numAffectedRows ?? 0) === 1;
}
