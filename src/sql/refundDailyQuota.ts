import { sql, type Kysely } from 'kysely';
import type { Database, SendingDomain } from '../db/schema.js';
import { capWindow } from '../domain/dailyCap.js';
import { capRules } from './sendingDomainSettings.js';

/**
 * Gives back quota for claims that were released unsent, to the cap day each was claimed on.
 * Days without a counter (no cap then) are left alone.
 */
export async function refundDailyQuota(trx: Kysely<Database>, domain: SendingDomain, claimedAt: readonly Date[]): Promise<void> {
  const rules = capRules(domain);
  const perDay = new Map<string, number>();
  for (const at of claimedAt) {
    const day = capWindow(at, rules.resetHour, rules.timeZone).day;
    perDay.set(day, (perDay.get(day) ?? 0) + 1);
  }
  for (const [day, count] of perDay) {
    await sql`
      update domain_daily_usage set used = greatest(0, used - ${count}) where domain = ${domain.name} and day = ${day}
    `.execute(trx);
  }
}
