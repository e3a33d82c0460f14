import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { capForDay, capWindow } from '../domain/dailyCap.js';
import { findSendingDomain } from './findSendingDomain.js';
import { capRules } from './sendingDomainSettings.js';

export interface DailyQuota {
  /** Messages that may still be claimed on the current cap day. */
  allowance: number;
  resetsAt: Date;
  /** Counts claimed messages against the day; call in the same transaction. */
  consume(count: number): Promise<void>;
}

/**
 * Locks the domain's counter for the current cap day (serialising every claimer of the
 * domain, whichever campaign or worker) and says how much is left. Null when the domain is
 * not registered or has no cap today. Call inside the claiming transaction.
 */
export async function reserveDailyQuota(trx: Kysely<Database>, givenName: string, now: Date): Promise<DailyQuota | null> {
  const domain = await findSendingDomain(trx, givenName);
  if (!domain) return null;
  // The counter is kept under the registered name, whatever case the campaign gave.
  const domainName = domain.name;
  const rules = capRules(domain);
  const window = capWindow(now, rules.resetHour, rules.timeZone);
  const cap = capForDay(rules, window.day);
  if (cap === null) return null;
  await sql`insert into domain_daily_usage (domain, day) values (${domainName}, ${window.day}) on conflict do nothing`.execute(trx);
  const usage = await sql<{ used: number }>`
    select used from domain_daily_usage where domain = ${domainName} and day = ${window.day} for update
  `.execute(trx);
  const used = usage.rows[0]?.used ?? 0;
  return {
    allowance: Math.max(0, cap - used),
    resetsAt: window.resetsAt,
    consume: async (count) => {
      if (count === 0) return;
      await sql`update domain_daily_usage set used = used + ${count} where domain = ${domainName} and day = ${window.day}`.execute(trx);
    },
  };
}
