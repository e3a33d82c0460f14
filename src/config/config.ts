import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/** Everything Herald reads from the environment, validated once at start. */
export interface Config {
  databaseUrl: string | undefined;
  dataDir: string;
  mailgun: {
    apiKey: string | undefined;
    domain: string | undefined;
    baseUrl: string;
  };
  redisUrl: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  secret: string | undefined;
  publicUrl: string;
  webhookSigningKey: string | undefined;
  /** Bearer token for `herald serve`'s API, dashboard data and /metrics. */
  apiToken: string | undefined;
  /** Largest CSV upload `herald serve` takes (bytes); larger ones get 413. */
  maxUploadBytes: number;
  /**
   * How long `herald serve` reuses an answer of the read endpoints that dashboards and API
   * clients poll (a campaign, the campaign list), in milliseconds; 0 turns the cache off.
   */
  apiCacheMs: number;
  /** How often serve and worker --watch read the provider's event log for missed events (0: never). */
  eventSyncMs: number;
  /** How far back the event log is read: campaigns that sent within this many days. */
  eventSyncDays: number;
}

/** 512 MiB: several million recipients' rows, far below what fills a disk or a day. */
const DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

/** 1 s: watchers polling every second or two share one query; a change shows within a second. */
const DEFAULT_API_CACHE_MS = 1000;
const MAX_API_CACHE_MS = 60_000;

const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const urlString = (name: string) =>
  z
    .string()
    .trim()
    .refine((v) => v === '' || URL.canParse(v), { message: `${name} must be a URL` })
    .transform((v) => (v === '' ? undefined : v))
    .optional();

/** A URL Herald makes HTTP requests to: anything else would only fail later, far from its cause. */
const httpUrlString = (name: string) =>
  z
    .string()
    .trim()
    .refine((v) => v === '' || URL.canParse(v), { message: `${name} must be a URL` })
    .refine((v) => v === '' || !URL.canParse(v) || ['http:', 'https:'].includes(new URL(v).protocol), { message: `${name} must be an http:// or https:// URL` })
    .transform((v) => (v === '' ? undefined : v))
    .optional();

/** Missed webhooks are filled in from the provider's log this often, for campaigns of the last week. */
const DEFAULT_EVENT_SYNC_MS = 5 * 60_000;
const DEFAULT_EVENT_SYNC_DAYS = 7;

const envSchema = z.object({
  DATABASE_URL: urlString('DATABASE_URL'),
  HERALD_DATA_DIR: optionalString,
  MAILGUN_API_KEY: optionalString,
  MAILGUN_DOMAIN: optionalString,
  MAILGUN_BASE_URL: httpUrlString('MAILGUN_BASE_URL'),
  REDIS_URL: urlString('REDIS_URL'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  HERALD_SECRET: optionalString,
  HERALD_PUBLIC_URL: urlString('HERALD_PUBLIC_URL'),
  MAILGUN_WEBHOOK_SIGNING_KEY: optionalString,
  HERALD_API_TOKEN: optionalString,
  HERALD_MAX_UPLOAD_BYTES: z
    .string()
    .trim()
    .refine((v) => v === '' || (/^[0-9]{1,15}$/.test(v) && Number(v) > 0), { message: 'HERALD_MAX_UPLOAD_BYTES must be a whole number of bytes above 0' })
    .transform((v) => (v === '' ? undefined : Number(v)))
    .optional(),
  HERALD_API_CACHE_MS: z
    .string()
    .trim()
    .refine((v) => v === '' || (/^[0-9]{1,6}$/.test(v) && Number(v) <= MAX_API_CACHE_MS), {
      message: `HERALD_API_CACHE_MS must be a whole number of milliseconds from 0 (off) to ${MAX_API_CACHE_MS}`,
    })
    .transform((v) => (v === '' ? undefined : Number(v)))
    .optional(),
  HERALD_EVENT_SYNC_MS: z
    .string()
    .trim()
    .refine((v) => v === '' || (/^[0-9]{1,9}$/.test(v) && (Number(v) === 0 || Number(v) >= 1000)), {
      message: 'HERALD_EVENT_SYNC_MS must be 0 (no sync loop) or a whole number of milliseconds of at least 1000',
    })
    .transform((v) => (v === '' ? undefined : Number(v)))
    .optional(),
  HERALD_EVENT_SYNC_DAYS: z
    .string()
    .trim()
    .refine((v) => v === '' || (/^[0-9]{1,3}$/.test(v) && Number(v) >= 1 && Number(v) <= 90), {
      message: 'HERALD_EVENT_SYNC_DAYS must be a whole number of days from 1 to 90',
    })
    .transform((v) => (v === '' ? undefined : Number(v)))
    .optional(),
});

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid environment: ${problems}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.HERALD_DATA_DIR ?? path.join('.herald', 'db')),
    mailgun: {
      apiKey: e.MAILGUN_API_KEY,
      domain: e.MAILGUN_DOMAIN,
      baseUrl: e.MAILGUN_BASE_URL ?? 'https://api.mailgun.net',
    },
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL ?? 'info',
    secret: e.HERALD_SECRET,
    publicUrl: e.HERALD_PUBLIC_URL ?? 'http://localhost:8080',
    webhookSigningKey: e.MAILGUN_WEBHOOK_SIGNING_KEY,
    apiToken: e.HERALD_API_TOKEN,
    maxUploadBytes: e.HERALD_MAX_UPLOAD_BYTES ?? DEFAULT_MAX_UPLOAD_BYTES,
    apiCacheMs: e.HERALD_API_CACHE_MS ?? DEFAULT_API_CACHE_MS,
    eventSyncMs: e.HERALD_EVENT_SYNC_MS ?? DEFAULT_EVENT_SYNC_MS,
    eventSyncDays: e.HERALD_EVENT_SYNC_DAYS ?? DEFAULT_EVENT_SYNC_DAYS,
  };
}

/** Threads for rendering: leave one core to the event loop that sends. */
export function defaultRenderThreads(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

/** Settings a command needs to send, with the reason when one is missing. */
export function requireMailgun(config: Config): { apiKey: string; domain: string; baseUrl: string } {
  const { apiKey, domain, baseUrl } = config.mailgun;
  if (!apiKey) throw new ConfigError('MAILGUN_API_KEY is not set (needed to send)');
  if (!domain) throw new ConfigError('MAILGUN_DOMAIN is not set (needed to send)');
  return { apiKey, domain, baseUrl };
}
