import { sql } from 'kysely';
import type { SendingDomain } from '../db/schema.js';
import type { CapRules } from '../domain/dailyCap.js';

export interface DomainSettings {
  ratePerSecond?: number | null;
  maxConcurrency?: number | null;
  dailyCap?: number | null;
  resetHour?: number;
  timeZone?: string;
  warmup?: { start: string; caps: number[] } | null;
}

/** A domain row's cap settings, as the pure cap rules take them. */
export function capRules(domain: SendingDomain): CapRules {
  return {
    dailyCap: domain.daily_cap,
    resetHour: domain.reset_hour,
    timeZone: domain.time_zone,
    warmup: domain.warmup_start && domain.warmup_caps ? { start: domain.warmup_start, caps: domain.warmup_caps } : null,
  };
}

/** The columns a DomainSettings sets (only those given). */
export function domainColumns(s: DomainSettings) {
  return {
    ...(s.ratePerSecond !== undefined ? { rate_per_second: s.ratePerSecond } : {}),
    ...(s.maxConcurrency !== undefined ? { max_concurrency: s.maxConcurrency } : {}),
    ...(s.dailyCap !== undefined ? { daily_cap: s.dailyCap } : {}),
    ...(s.resetHour !== undefined ? { reset_hour: s.resetHour } : {}),
    ...(s.timeZone !== undefined ? { time_zone: s.timeZone } : {}),
    ...(s.warmup !== undefined ? { warmup_start: s.warmup?.start ?? null, warmup_caps: s.warmup ? sql<number[]>`${s.warmup.caps}::integer[]` : null } : {}),
  };
}
