import { sql, type Kysely } from 'kysely';
import type { Database, SendingDomain } from '../db/schema.js';
import type { CapRules } from '../domain/dailyCap.js';
import { domainKey } from '../domain/email.js';

export interface DomainSettings {
  ratePerSecond?: number | null;
  maxConcurrency?: number | null;
  dailyCap?: number | null;
  resetHour?: number;
  timeZone?: string;
  warmup?: { start: string; caps: number[] } | null;
}

/** Registers a sending domain (by its lower-cased name); false when it exists already. */
export async function addSendingDomain(db: Kysely<Database>, name: string, settings: DomainSettings): Promise<boolean> {
  if (await getSendingDomain(db, name)) return false;
  const row = await db
    .insertInto('sending_domains')
    .values({ name: domainKey(name), ...columns(settings) })
    .onConflict((oc) => oc.column('name').doNothing())
    .returning('name')
    .executeTakeFirst();
  return row !== undefined;
}

/** Changes the given settings of a domain; false when there is no such domain. */
export async function updateSendingDomain(db: Kysely<Database>, name: string, settings: DomainSettings): Promise<boolean> {
  const result = await db
    .updateTable('sending_domains')
    .set({ ...columns(settings), updated_at: sql<Date>`now()` })
    .where(sql`lower(name)`, '=', domainKey(name))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * The registered domain of that name, whatever its case: a cap registered as `MG.example.com`
 * holds for campaigns sending through `mg.example.com` (rows from before names were
 * lower-cased on the way in are found too; the table has a handful of rows).
 */
export async function getSendingDomain(db: Kysely<Database>, name: string): Promise<SendingDomain | undefined> {
  return db.selectFrom('sending_domains').selectAll().where(sql`lower(name)`, '=', domainKey(name)).orderBy('name').executeTakeFirst();
}

export async function listSendingDomains(db: Kysely<Database>): Promise<SendingDomain[]> {
  return db.selectFrom('sending_domains').selectAll().orderBy('name').execute();
}

/** Messages counted against a domain's cap on one cap day. */
export async function domainUsage(db: Kysely<Database>, name: string, day: string): Promise<number> {
  const row = await db.selectFrom('domain_daily_usage').select('used').where('domain', '=', name).where('day', '=', day).executeTakeFirst();
  return row?.used ?? 0;
}

export function capRules(domain: SendingDomain): CapRules {
  return {
    dailyCap: domain.daily_cap,
    resetHour: domain.reset_hour,
    timeZone: domain.time_zone,
    warmup: domain.warmup_start && domain.warmup_caps ? { start: domain.warmup_start, caps: domain.warmup_caps } : null,
  };
}

function columns(s: DomainSettings) {
  return {
    ...(s.ratePerSecond !== undefined ? { rate_per_second: s.ratePerSecond } : {}),
    ...(s.maxConcurrency !== undefined ? { max_concurrency: s.maxConcurrency } : {}),
    ...(s.dailyCap !== undefined ? { daily_cap: s.dailyCap } : {}),
    ...(s.resetHour !== undefined ? { reset_hour: s.resetHour } : {}),
    ...(s.timeZone !== undefined ? { time_zone: s.timeZone } : {}),
    ...(s.warmup !== undefined ? { warmup_start: s.warmup?.start ?? null, warmup_caps: s.warmup ? sql<number[]>`${s.warmup.caps}::integer[]` : null } : {}),
  };
}
