/**
 * The stable id of one (campaign, recipient) pair, sent as `v:herald-delivery` so every
 * message can be traced in the provider's events and webhooks.
 */
export function formatDeliveryId(campaignId: number, recipientId: number): string {
  return `${campaignId}.${recipientId}`;
}

/** The ids formatDeliveryId makes, and only those: `07.1` is not `7.1`. */
export function parseDeliveryId(value: string): { campaignId: number; recipientId: number } | null {
  const match = /^(0|[1-9]\d{0,14})\.(0|[1-9]\d{0,14})$/.exec(value);
  if (!match) return null;
  return { campaignId: Number(match[1]), recipientId: Number(match[2]) };
}
