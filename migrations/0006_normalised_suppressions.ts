import { sql, type Kysely } from 'kysely';

// Suppressions are matched by key: the address trimmed and lower-cased. The API once stored
// addresses with the spaces they were sent with (" dave@example.com "), and such a row
// suppresses nobody. Existing rows are rewritten to their key (where the key is already
// suppressed, the older row is dropped and the one already keyed kept), and a check keeps
// surrounding whitespace out from now on, as the original check keeps upper case out.
const EDGE_SPACE = `'^[[:space:]]+|[[:space:]]+$'`;
// The check names ASCII whitespace only: everything in it is removed by JavaScript's trim(),
// so no key Herald computes can trip it.
const EDGE_ASCII_SPACE = `'^[ \\t\\n\\r\\f\\v]|[ \\t\\n\\r\\f\\v]$'`;

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`
      insert into suppressions (email, reason, source, campaign_id, created_at)
      select distinct on (k.key) k.key, s.reason, s.source, s.campaign_id, s.created_at
      from suppressions s
      cross join lateral (select lower(regexp_replace(s.email, ${sql.raw(EDGE_SPACE)}, '', 'g')) as key) k
      where s.email <> k.key and k.key <> ''
      order by k.key, s.created_at
      on conflict (email) do nothing
    `,
    sql`delete from suppressions where email <> lower(regexp_replace(email, ${sql.raw(EDGE_SPACE)}, '', 'g'))`,
    sql`alter table suppressions add constraint suppressions_email_trimmed check (email !~ ${sql.raw(EDGE_ASCII_SPACE)})`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table suppressions drop constraint suppressions_email_trimmed`.execute(db);
}
