/**
 * The stable id of one (campaign, recipient) pair, sent as `v:herald-delivery` so every
 * message can be traced in the provider's events and webhooks.
 */
export function formatDeliveryId(campaignId: number, recipientId: number): string {
  return `${campaignId}.${recipientId}`;
}

export function parseDeliveryId(value: string): { campaignId: number; recipientId: number } | null {
  const match = /^(\d{1,15})\.(\d{1,15})$/.exec(value);
  if (!match) return null;
  return { campaignId: Number(match[1]), recipientId: Number(match[2]) };
}
