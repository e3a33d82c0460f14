import { deliveriesPage } from '../../sql/deliveriesPage.js';
import { json } from '../http.js';
import type { ApiContext } from './context.js';
import type { Router } from './router.js';
import { deliveriesQuery, parseInput } from './schemas.js';

export function deliveryRoutes(router: Router, { db }: ApiContext): void {
  // Keyset pagination: `next` is the cursor of the page after this one, null at the end.
  router.add('GET', '/api/v1/deliveries', async ({ query }) => {
    const q = parseInput(deliveriesQuery, Object.fromEntries(query), 'query');
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
    return json(200, { items, next: rows.length > q.limit && last ? `${last.campaignId}.${last.recipientId}` : null });
  });
}
