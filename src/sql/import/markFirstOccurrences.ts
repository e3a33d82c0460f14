import { sql } from 'kysely';
import type { Duplicates, SessionRunner } from './session.js';

/** The rows of a batch that are the first occurrence of their address in the file. */
export interface FirstOccurrences {
  emails: string[];
  names: Array<string | null>;
  attributes: string[];
}

/**
 * Marks the staged batch against every address seen so far in the file (batches come in
 * file order, so "first" means first in the file); returns the first occurrences to merge
 * and the duplicates to reject.
 */
export async function markFirstOccurrences(run: SessionRunner): Promise<{ firsts: FirstOccurrences; duplicates: Duplicates }> {
  await run(sql`
    with fresh as (
      insert into import_seen (email_lower, line)
      select lower(email), line from import_batch order by line
      on conflict do nothing
      returning line
    )
    update import_batch set is_first = true where line in (select line from fresh)
  `);
  // A scalar subquery: one index lookup per duplicate. (A join lets the planner, which has no
  // statistics for temporary tables, hash the whole growing import_seen table every batch.)
  const dupes = await run(sql<{ line: number; first_line: number }>`
    select b.line, (select s.line from import_seen s where s.email_lower = lower(b.email)) as first_line
    from import_batch b where not b.is_first order by b.line
  `);
  const rows = await run(sql<{ email: string; name: string | null; attributes: string }>`
    select email, name, attributes::text as attributes from import_batch where is_first order by line
  `);
  return {
    firsts: { emails: rows.rows.map((r) => r.email), names: rows.rows.map((r) => r.name), attributes: rows.rows.map((r) => r.attributes) },
    duplicates: dupes.rows.map((d) => ({ line: d.line, firstLine: d.first_line })),
  };
}
