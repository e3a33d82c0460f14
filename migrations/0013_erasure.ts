import { sql, type Kysely } from 'kysely';

// Erasing a person (docs/operations.md, "Erasing a person"). Their deliveries stay, so the kept
// counts still equal the delivery rows, and so does their recipient row, as an anonymous
// tombstone: `erased_at` set, the address replaced by `erased:<id>` (no @, so it can be neither
// mailed nor imported, and unique because the id is), no name, no attributes. The check holds
// every tombstone to that; it is NOT VALID only so that adding it does not read the whole
// table (no existing row is erased).
//
// `erased_addresses` keeps a keyed hash of each erased address (SHA-256 of a key kept in
// settings and the address, never the address), so that an import or upsert of it is refused with a reason
// until an operator readmits it, and so that `recipients show` can answer "erased". A
// suppression the address had (or one that arrives later for its tombstone) is kept here as
// its reason: "do not mail" outlives the address.
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`alter table recipients add column erased_at timestamptz`,
    sql`
      alter table recipients add constraint recipients_erased_tombstone
      check (erased_at is null or (email = 'erased:' || id::text and name is null and attributes = '{}'::jsonb)) not valid
    `,
    sql`
      create table erased_addresses (
        address_hash text primary key,
        recipient_id bigint,
        erased_at timestamptz not null default now(),
        suppression_reason text check (suppression_reason in ('unsubscribed', 'bounced', 'complained', 'manual')),
        suppressed_at timestamptz
      )
    `,
    sql`create index erased_addresses_recipient on erased_addresses (recipient_id) where recipient_id is not null`,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`drop table erased_addresses`,
    sql`alter table recipients drop constraint recipients_erased_tombstone`,
    sql`alter table recipients drop column erased_at`,
  ]) {
    await statement.execute(db);
  }
}
