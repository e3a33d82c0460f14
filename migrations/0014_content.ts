import { sql, type Kysely } from 'kysely';

// A campaign's content (docs/architecture.md, "A campaign's content"): the exact template
// sources it renders from, fixed when it first starts, in the same transaction that fixes its
// audience, and never rewritten. `sources` is the ContentSources object (src/domain/content.ts);
// `hash` the sha256 of its canonical JSON. One row per started campaign; drafts have none.
//
// Campaigns already started before this migration have no row: the first command or worker
// that renders one after the upgrade (a resume, a worker picking it up, a retry) stores the
// files as they are then (sender/render/campaignSpec.ts).
export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of [
    sql`
      create table campaign_content (
        campaign_id bigint primary key references campaigns (id) on delete cascade,
        sources jsonb not null,
        hash text not null check (hash ~ '^[0-9a-f]{64}$'),
        made_at timestamptz not null default now()
      )
    `,
  ]) {
    await statement.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table campaign_content`.execute(db);
}
