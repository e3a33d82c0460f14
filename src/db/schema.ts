import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<Record<string, unknown>, string | Record<string, unknown>, string | Record<string, unknown>>;

import type { CampaignStatus } from '../domain/campaignState.js';
import type { UnknownPolicy } from '../domain/reconcile.js';

export type { CampaignStatus, UnknownPolicy };
/**
 * pending: claimable; queued: claimed by a worker; unknown: a request may have reached the
 * provider but nothing says whether it was accepted (its worker vanished mid-send, or the
 * request timed out or lost its connection after it was written).
 */
export type DeliveryStatus = 'pending' | 'queued' | 'sent' | 'failed' | 'suppressed' | 'unknown' | 'skipped';
export type SuppressionReason = 'unsubscribed' | 'bounced' | 'complained' | 'manual';

export interface ListsTable {
  id: Generated<number>;
  name: string;
  created_at: Generated<Date>;
  /** Kept by a trigger on list_members (migration 0008). */
  member_count: Generated<number>;
}

export interface RecipientsTable {
  id: Generated<number>;
  email: string;
  name: string | null;
  attributes: Json;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** Set when the person was erased: the row is then an anonymous tombstone (migration 0013). */
  erased_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

/** Recipients a delivery to whom reached `sent`, as far as the marking step got (migration 0015; read with recipient_sends_marked). */
export interface SentRecipientsTable {
  recipient_id: number;
}

/** Per campaign, how far its sent recipients are marked in sent_recipients (migration 0015). */
export interface RecipientSendsMarkedTable {
  campaign_id: number;
  /** The campaign's kept sent count when the last complete pass began; null before one completed. */
  marked_sent: number | null;
  /** A pass in progress: the kept sent count when it began, and the last recipient id done. */
  pass_sent: number | null;
  pass_after: number | null;
}

/** A keyed hash of each erased address, never the address (migration 0013). */
export interface ErasedAddressesTable {
  address_hash: string;
  recipient_id: number | null;
  erased_at: Generated<Date>;
  suppression_reason: SuppressionReason | null;
  suppressed_at: Timestamp | null;
}

export interface ListMembersTable {
  list_id: number;
  recipient_id: number;
  created_at: Generated<Date>;
}

export interface SuppressionsTable {
  email: string;
  reason: SuppressionReason;
  source: string | null;
  campaign_id: number | null;
  created_at: Generated<Date>;
}

export interface CampaignsTable {
  id: Generated<number>;
  name: string;
  list_id: number;
  template: string;
  subject: string;
  from_address: string;
  reply_to: string | null;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  status: ColumnType<CampaignStatus, CampaignStatus | undefined, CampaignStatus>;
  rate_per_second: number | null;
  max_concurrency: number | null;
  priority: Generated<number>;
  unknown_policy: ColumnType<UnknownPolicy, UnknownPolicy | undefined, UnknownPolicy>;
  claim_cursor: Generated<number>;
  list_exhausted: Generated<boolean>;
  scheduled_at: Timestamp | null;
  created_at: Generated<Date>;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  updated_at: Generated<Date>;
  /** The Mailgun domain it sends through; null means the configured MAILGUN_DOMAIN. */
  sending_domain: string | null;
  /** Why a running campaign is not sending now (e.g. `daily_cap`), and until when. */
  waiting_reason: string | null;
  waiting_until: Timestamp | null;
  /** Words for `waiting_reason` (e.g. the provider's last error). */
  waiting_detail: string | null;
  /** Why the campaign paused itself (e.g. the provider rejected the API key); null when an operator paused it. */
  paused_reason: string | null;
  /** When `campaign purge-details` dropped its per-recipient rows; its counts remain. */
  details_purged_at: Timestamp | null;
  /** The saved segment its audience is filtered by (migration 0012); exclusive with where_text until it starts. */
  segment_id: ColumnType<number | null, number | null | undefined, number | null>;
  /**
   * The segment expression its audience is filtered by: the ad-hoc --where text, or, from its
   * first start on, the saved segment's expression as it was then.
   */
  where_text: ColumnType<string | null, string | null | undefined, string | null>;
  /** How many recipients its audience holds; null until the first start fixes it (docs/audience.md). */
  audience_size: ColumnType<number | null, number | null | undefined, number | null>;
}

/** A saved segment: a named filter expression (docs/segments.md). */
export interface SegmentsTable {
  id: Generated<number>;
  name: string;
  expression: string;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

/** The lists a campaign sends to (include) and those whose members it leaves out (exclude). */
export interface CampaignListsTable {
  campaign_id: number;
  list_id: number;
  role: 'include' | 'exclude';
}

/** The recipients of a campaign, fixed at its first start; the claim walks it by keyset. */
export interface CampaignAudienceTable {
  campaign_id: number;
  recipient_id: number;
}

export interface SendingDomainsTable {
  name: string;
  rate_per_second: number | null;
  max_concurrency: number | null;
  daily_cap: number | null;
  reset_hour: Generated<number>;
  time_zone: Generated<string>;
  /** A local date (YYYY-MM-DD). */
  warmup_start: ColumnType<string | null, string | null | undefined, string | null>;
  warmup_caps: number[] | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface DomainDailyUsageTable {
  domain: string;
  day: ColumnType<string, string, string>;
  used: Generated<number>;
}

export interface WorkersTable {
  id: string;
  hostname: string;
  pid: number;
  started_at: Generated<Date>;
  heartbeat_at: Generated<Date>;
}

export interface DeliveriesTable {
  campaign_id: number;
  recipient_id: number;
  status: DeliveryStatus;
  attempts: Generated<number>;
  provider_id: string | null;
  error_code: string | null;
  error_message: string | null;
  worker_id: string | null;
  claimed_at: Timestamp | null;
  sent_at: Timestamp | null;
  updated_at: Generated<Date>;
}

export interface SettingsTable {
  key: string;
  value: string;
  created_at: Generated<Date>;
}

export interface WebhookTokensTable {
  token: string;
  seen_at: Generated<Date>;
}

export interface DeliveryEventsTable {
  id: string;
  campaign_id: number;
  recipient_id: number;
  event: string;
  severity: string | null;
  reason: string | null;
  occurred_at: Timestamp;
  payload: Json;
  received_at: Generated<Date>;
  /** A click's link. */
  url: string | null;
}

export type Standing = 'accepted' | 'delivered' | 'bounced_hard' | 'bounced_soft';

/** What happened after acceptance (migration 0009), folded by src/domain/outcome.ts. */
export interface DeliveryOutcomesTable {
  campaign_id: number;
  recipient_id: number;
  standing: Standing;
  delivered_at: Timestamp | null;
  failure_severity: 'permanent' | 'temporary' | null;
  failed_at: Timestamp | null;
  failure_reason: string | null;
  failure_code: number | null;
  failure_event: string | null;
  first_open_at: Timestamp | null;
  /** The latest open and click (migration 0011), for segments' "within N days". */
  last_open_at: Timestamp | null;
  opens: Generated<number>;
  first_click_at: Timestamp | null;
  last_click_at: Timestamp | null;
  clicks: Generated<number>;
  complained_at: Timestamp | null;
  unsubscribed_at: Timestamp | null;
  updated_at: Generated<Date>;
}

/** Provider events about deliveries Herald does not know, kept aside. */
export interface UnmatchedEventsTable {
  id: string;
  event: string;
  delivery: string | null;
  occurred_at: Timestamp;
  received_at: Generated<Date>;
  source: string;
  payload: Json;
}

/** How far each sending domain's provider log has been read. */
export interface EventLogPositionsTable {
  domain: string;
  synced_until: Timestamp;
  updated_at: Generated<Date>;
}

export interface Database {
  settings: SettingsTable;
  webhook_tokens: WebhookTokensTable;
  delivery_events: DeliveryEventsTable;
  lists: ListsTable;
  recipients: RecipientsTable;
  list_members: ListMembersTable;
  suppressions: SuppressionsTable;
  campaigns: CampaignsTable;
  workers: WorkersTable;
  deliveries: DeliveriesTable;
  sending_domains: SendingDomainsTable;
  domain_daily_usage: DomainDailyUsageTable;
  delivery_counts: DeliveryCountsTable;
  delivery_count_changes: DeliveryCountsTable;
  recipient_sends_marked: RecipientSendsMarkedTable;
  sent_recipients: SentRecipientsTable;
  campaign_samples: CampaignSamplesTable;
  delivery_outcomes: DeliveryOutcomesTable;
  unmatched_events: UnmatchedEventsTable;
  event_log_positions: EventLogPositionsTable;
  segments: SegmentsTable;
  campaign_lists: CampaignListsTable;
  campaign_audience: CampaignAudienceTable;
  erased_addresses: ErasedAddressesTable;
  campaign_content: CampaignContentTable;
}

/** What a started campaign renders from, fixed at its first start (migration 0014). */
export interface CampaignContentTable {
  campaign_id: number;
  /** ContentSources (src/domain/content.ts). */
  sources: Json;
  /** sha256 (hex) of the canonical JSON of `sources`. */
  hash: string;
  made_at: Generated<Date>;
}

/** Deliveries per campaign, status and reason (error_code, '' for none): folded, or changes since. */
export interface DeliveryCountsTable {
  campaign_id: number;
  status: DeliveryStatus;
  reason: string;
  n: number;
}

/** A running campaign's sent count every few seconds, for its rate. */
export interface CampaignSamplesTable {
  campaign_id: number;
  at: Timestamp;
  sent: number;
}

export type Campaign = Selectable<CampaignsTable>;
export type SendingDomain = Selectable<SendingDomainsTable>;
export type NewCampaign = Insertable<CampaignsTable>;
