import type { z } from 'zod';
import { deliveriesPage } from '../../sql/deliveriesPage.js';
import type { ApiContext } from './context.js';
import type { deliveriesQuery } from './schemas.js';

/** Keyset pagination: `next` is the cursor of the page after this one, null at the end. */
export async function deliveries({ db }: ApiContext, q: z.output<typeof deliveriesQuery>) {
  const [afterCampaign, afterRecipient] = q.after ? q.after.split('.').map(Number) : [];
  const rows = await deliveriesPage(db.kysely, {
    campaignId: q.campaign,
    status: q.status,
    email: q.email,
    after: afterCampaign !== undefined ? { campaignId: afterCampaign, recipientId: afterRecipient! } : undefined,
    limit: q.limit + 1,
  });
  const items = rows.slice(0, q.limit);
  const last = items[items.length - 1];
  return { items, next: rows.length > q.limit && last ? `${last.campaignId}.${last.recipientId}` : null };
}
