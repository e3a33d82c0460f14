import type { Config } from '../config/config.js';
import type { Db } from '../db/connect.js';
import { ConflictError, NotFoundError } from '../domain/errors.js';
import { campaignAudience } from '../sql/campaignAudience.js';
import { updateDraftCampaign } from '../sql/updateDraftCampaign.js';
import { getCampaignOrThrow } from './control.js';
import { audienceRace, prepareCampaign, type CreateCampaignInput } from './create.js';

/**
 * A change to a draft: any field of a new campaign, the rest kept. `null` clears an optional
 * setting. The audience's parts are replaced one by one: `list`/`lists` the lists sent to,
 * `excludeLists` the lists left out, and `segment` or `where` the filter (giving one drops the
 * other). See docs/http-api.md.
 */
export interface DraftPatch {
  name?: string | undefined;
  list?: string | undefined;
  lists?: readonly string[] | undefined;
  excludeLists?: readonly string[] | undefined;
  segment?: string | null | undefined;
  where?: string | null | undefined;
  template?: string | undefined;
  subject?: string | undefined;
  from?: string | undefined;
  replyTo?: string | null | undefined;
  domain?: string | null | undefined;
  tags?: string[] | undefined;
  ratePerSecond?: number | null | undefined;
  maxConcurrency?: number | null | undefined;
  priority?: number | undefined;
  unknownPolicy?: CreateCampaignInput['unknownPolicy'];
}

/**
 * Edits a draft campaign: the patch is merged into what it has, and the whole passes the
 * checks a new campaign passes (the templates compiled again). A campaign that is no longer a
 * draft is not changed (409): it may have started, and its audience may be fixed.
 */
export async function editDraftCampaign(db: Db, config: Config, id: number, patch: DraftPatch): Promise<void> {
  const campaign = await getCampaignOrThrow(db, id);
  const notDraft = (status: string) =>
    new ConflictError(`campaign ${id} is ${status}: only a draft can be edited (create a new campaign, or cancel this one first)`);
  if (campaign.status !== 'draft') throw notDraft(campaign.status);
  const audience = await campaignAudience(db.kysely, id);
  if (!audience) throw new NotFoundError(`campaign ${id} does not exist`);
  const newFilter = patch.segment !== undefined || patch.where !== undefined;
  const newLists = patch.list !== undefined || patch.lists !== undefined;
  const keep = <T>(value: T | null | undefined, current: T | undefined): T | undefined => (value === undefined ? current : (value ?? undefined));
  const input: CreateCampaignInput = {
    name: patch.name ?? campaign.name,
    lists: newLists ? [...(patch.list === undefined ? [] : [patch.list]), ...(patch.lists ?? [])] : audience.include.map((l) => l.name),
    excludeLists: patch.excludeLists ?? audience.exclude.map((l) => l.name),
    segment: newFilter ? (patch.segment ?? undefined) : audience.segment?.name,
    where: newFilter ? (patch.where ?? undefined) : (audience.whereText ?? undefined),
    template: patch.template ?? campaign.template,
    subject: patch.subject ?? campaign.subject,
    from: patch.from ?? campaign.from_address,
    replyTo: keep(patch.replyTo, campaign.reply_to ?? undefined),
    domain: keep(patch.domain, campaign.sending_domain ?? undefined),
    tags: patch.tags ?? campaign.tags,
    ratePerSecond: keep(patch.ratePerSecond, campaign.rate_per_second ?? undefined),
    maxConcurrency: keep(patch.maxConcurrency, campaign.max_concurrency ?? undefined),
    priority: patch.priority ?? campaign.priority,
    unknownPolicy: patch.unknownPolicy ?? campaign.unknown_policy,
  };
  const prepared = await prepareCampaign(db, config, input);
  let updated: boolean;
  try {
    updated = await updateDraftCampaign(db.kysely, id, prepared.values, prepared.audience);
  } catch (err) {
    throw audienceRace(err);
  }
  if (!updated) throw notDraft((await getCampaignOrThrow(db, id)).status);
}
