import { InvalidArgumentError, type Command } from 'commander';
import { isDomainName } from '../domain/validation.js';
import { assertTimeZone, capForDay, capWindow, parseLocalDate, parseWarmupCaps } from '../domain/dailyCap.js';
import { UserError } from '../domain/errors.js';
import { addSendingDomain } from '../sql/addSendingDomain.js';
import { domainUsage } from '../sql/domainUsage.js';
import { listSendingDomains } from '../sql/listSendingDomains.js';
import { capRules, type DomainSettings } from '../sql/sendingDomainSettings.js';
import { updateSendingDomain } from '../sql/updateSendingDomain.js';
import { intArg } from './args.js';
import { withContext } from './context.js';

/** `none` clears a limit (commander turns a parsed null into ''). */
type Clearable<T> = T | 'none';

interface DomainOptions {
  rate?: Clearable<number>;
  maxConcurrency?: Clearable<number>;
  dailyCap?: Clearable<number>;
  resetHour?: number;
  timeZone?: string;
  warmupStart?: string;
  warmupCaps?: Clearable<number[]>;
}

/** A whole number >= min, or `none` to clear the limit. */
function limitArg(min: number): (value: string) => Clearable<number> {
  const wholeNumber = intArg(min);
  return (value) => (value === 'none' ? value : wholeNumber(value));
}

function hourArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 23) throw new InvalidArgumentError(`expected an hour from 0 to 23, got '${value}'`);
  return n;
}

/** Turns a parser's error into commander's, so the CLI prints it as one line naming the option. */
function optionParser(parse: (value: string) => unknown): (value: string) => never {
  return (value) => {
    try {
      return parse(value) as never;
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

function withLimitOptions(command: Command): Command {
  return command
    .option('--rate <n>', "messages per second through this domain, all campaigns and workers together ('none' clears)", limitArg(1))
    .option('--max-concurrency <n>', "requests in flight through this domain, split among live workers ('none' clears)", limitArg(1))
    .option('--daily-cap <n>', "messages per day through this domain, all campaigns and workers together ('none' clears)", limitArg(0))
    .option('--reset-hour <h>', 'local hour at which the daily cap starts over (default 0)', hourArg)
    .option(
      '--time-zone <zone>',
      'IANA time zone of the reset hour and warm-up dates (default UTC)',
      optionParser((v) => {
        assertTimeZone(v);
        return v;
      }),
    )
    .option('--warmup-start <date>', 'first day (YYYY-MM-DD, local) of the warm-up ramp', optionParser(parseLocalDate))
    .option(
      '--warmup-caps <list>',
      "daily caps of the ramp, day one first, e.g. 500,1000,2000,5000 ('none' clears the ramp)",
      optionParser((v) => (v === 'none' ? v : parseWarmupCaps(v))),
    );
}

function toSettings(o: DomainOptions): DomainSettings {
  const ramp = o.warmupCaps === 'none' ? null : o.warmupCaps;
  if (ramp && !o.warmupStart) throw new UserError("--warmup-caps needs --warmup-start (the ramp's first day)");
  if (o.warmupStart && !ramp) throw new UserError("--warmup-start needs --warmup-caps (the ramp's daily caps)");
  const cleared = <T>(v: Clearable<T>): T | null => (v === 'none' ? null : v);
  return {
    ...(o.rate !== undefined ? { ratePerSecond: cleared(o.rate) } : {}),
    ...(o.maxConcurrency !== undefined ? { maxConcurrency: cleared(o.maxConcurrency) } : {}),
    ...(o.dailyCap !== undefined ? { dailyCap: cleared(o.dailyCap) } : {}),
    ...(o.resetHour !== undefined ? { resetHour: o.resetHour } : {}),
    ...(o.timeZone !== undefined ? { timeZone: o.timeZone } : {}),
    ...(o.warmupCaps === 'none' ? { warmup: null } : ramp ? { warmup: { start: o.warmupStart!, caps: ramp } } : {}),
  };
}

export function registerDomainCommands(program: Command): void {
  const domains = program.command('domains').description('sending domains: rate, concurrency, daily caps and warm-up ramps');

  withLimitOptions(domains.command('add <name>').description('register a sending domain with its limits')).action((name: string, o: DomainOptions) =>
    withContext(async ({ db }) => {
      if (!isDomainName(name)) throw new UserError(`'${name}' is not a domain name`);
      if (!(await addSendingDomain(db.kysely, name, toSettings(o)))) {
        throw new UserError(`domain '${name}' exists already (change it with: herald domains set ${name} …)`);
      }
      console.log(`added ${name}`);
    }),
  );

  withLimitOptions(domains.command('set <name>').description("change a domain's limits; running workers pick them up within a second")).action(
    (name: string, o: DomainOptions) =>
      withContext(async ({ db }) => {
        const settings = toSettings(o);
        if (Object.keys(settings).length === 0) throw new UserError('nothing to change: give at least one option (see herald domains set --help)');
        if (!(await updateSendingDomain(db.kysely, name, settings)))
          throw new UserError(`no sending domain '${name}' (add it with: herald domains add ${name})`);
        console.log(`updated ${name}`);
      }),
  );

  domains
    .command('ls')
    .description("domains with their limits and today's use of the daily cap")
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) =>
      withContext(async ({ db }) => {
        const now = new Date();
        const rows = [];
        for (const d of await listSendingDomains(db.kysely)) {
          const rules = capRules(d);
          const window = capWindow(now, rules.resetHour, rules.timeZone);
          rows.push({
            name: d.name,
            ratePerSecond: d.rate_per_second,
            maxConcurrency: d.max_concurrency,
            dailyCap: d.daily_cap,
            resetHour: d.reset_hour,
            timeZone: d.time_zone,
            warmup: rules.warmup,
            today: {
              day: window.day,
              cap: capForDay(rules, window.day),
              used: await domainUsage(db.kysely, d.name, window.day),
              resetsAt: window.resetsAt.toISOString(),
            },
          });
        }
        if (o.json) {
          console.log(JSON.stringify(rows, null, 2));
          return;
        }
        if (rows.length === 0) console.log('no sending domains yet (herald domains add NAME --daily-cap N …)');
        for (const r of rows) {
          const limits = [
            `rate ${r.ratePerSecond ?? '-'}/s`,
            `concurrency ${r.maxConcurrency ?? '-'}`,
            `daily cap ${r.dailyCap ?? '-'} (resets ${String(r.resetHour).padStart(2, '0')}:00 ${r.timeZone})`,
            r.warmup ? `warm-up from ${r.warmup.start}: ${r.warmup.caps.join(',')}` : null,
          ].filter(Boolean);
          const today = r.today.cap === null ? `today ${r.today.used} sent, no cap` : `today ${r.today.used}/${r.today.cap} until ${r.today.resetsAt}`;
          console.log(`${r.name}  ${limits.join('  ')}  |  ${today}`);
        }
      }),
    );
}
