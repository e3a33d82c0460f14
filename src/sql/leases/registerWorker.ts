import os from 'node:os';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';

export async function registerWorker(db: Kysely<Database>, id: string): Promise<void> {
  await db.insertInto('workers').values({ id, hostname: os.hostname(), pid: process.pid }).execute();
}
