import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

export interface SegmentRow {
  id: number;
  name: string;
  expression: string;
  createdAt: Date;
  updatedAt: Date;
}

export async function findSegment(db: Kysely<Database>, name: string): Promise<SegmentRow | undefined> {
  const r = await db.selectFrom('segments').select(['id', 'name', 'expression', 'created_at', 'updated_at']).where('name', '=', name).executeTakeFirst();
  return r && { id: r.id, name: r.name, expression: r.expression, createdAt: r.created_at, updatedAt: r.updated_at };
}
