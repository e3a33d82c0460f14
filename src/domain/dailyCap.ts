/**
 * Daily caps of a sending domain: which "cap day" an instant belongs to (days start at a
 * configurable local hour in a configurable time zone), and how many messages that day
 * allows (a fixed cap, or a warm-up ramp that grows day by day). Pure: no clock, no IO.
 */

export interface CapRules {
  /** Messages per cap day once any warm-up is over; null for no cap. */
  dailyCap: number | null;
  /** Local hour (0–23) at which a new cap day starts. */
  resetHour: number;
  /** IANA time zone, e.g. `Europe/Berlin`. */
  timeZone: string;
  /** Day-by-day caps from `start` (a local date): day one allows caps[0], day two caps[1]… */
  warmup: { start: string; caps: readonly number[] } | null;
}

export interface CapWindow {
  /** The local date on which this cap day started (YYYY-MM-DD). */
  day: string;
  /** When the next cap day starts. */
  resetsAt: Date;
}

const DAY_MS = 86_400_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Throws a RangeError naming the zone when it is not an IANA time zone this runtime knows. */
export function assertTimeZone(timeZone: string): void {
  try {
    localParts(new Date(0), timeZone);
  } catch {
    throw new RangeError(`unknown time zone '${timeZone}' (expected an IANA name such as Europe/Berlin or UTC)`);
  }
}

export function capWindow(now: Date, resetHour: number, timeZone: string): CapWindow {
  const local = localParts(now, timeZone);
  const today = isoDate(local.year, local.month, local.day);
  const day = local.hour < resetHour ? addDays(today, -1) : today;
  const next = addDays(day, 1);
  return { day, resetsAt: localInstant(next, resetHour, timeZone) };
}

/** Messages allowed on a cap day; null for unlimited. */
export function capForDay(rules: CapRules, day: string): number | null {
  if (rules.warmup && rules.warmup.caps.length > 0) {
    const index = daysBetween(rules.warmup.start, day);
    // Before the ramp starts the domain is not warm either: hold it to the first step.
    const step = index < 0 ? rules.warmup.caps[0] : rules.warmup.caps[index];
    if (step !== undefined) return rules.dailyCap === null ? step : Math.min(step, rules.dailyCap);
  }
  return rules.dailyCap;
}

/** Parses `500,1000,2500` into a ramp of daily caps; the error names the bad element. */
export function parseWarmupCaps(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  return parts.map((part, i) => {
    if (!/^\d+$/.test(part)) throw new RangeError(`warm-up cap #${i + 1} ('${part}') is not a whole number`);
    return Number(part);
  });
}

/** Validates a YYYY-MM-DD calendar date. */
export function parseLocalDate(text: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  // Date.UTC rolls 2026-02-30 over to March: a date that survives the round trip is real.
  if (m && addDays(text, 0) === text) return text;
  throw new RangeError(`'${text}' is not a calendar date (expected YYYY-MM-DD)`);
}

function addDays(day: string, days: number): string {
  const d = new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS);
  return isoDate(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function localParts(instant: Date, timeZone: string): LocalParts {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  const parts: Record<string, number> = {};
  for (const p of format.formatToParts(instant)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

/** The instant at which the wall clock in `timeZone` shows `day` at `hour`:00. */
function localInstant(day: string, hour: number, timeZone: string): Date {
  const wall = Date.parse(`${day}T00:00:00Z`) + hour * 3_600_000;
  // Correct for the zone's offset twice: the offset itself can change (DST) in between.
  let t = wall - offsetAt(wall, timeZone);
  t = wall - offsetAt(t, timeZone);
  return new Date(t);
}

function offsetAt(instant: number, timeZone: string): number {
  const p = localParts(new Date(instant), timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

function isoDate(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}
