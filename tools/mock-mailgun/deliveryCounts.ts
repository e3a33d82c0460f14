import { parseDeliveryId } from '../../src/domain/deliveryId.js';

/** Recipient ids counted in a byte array; larger ones (or other ids) go to a map. */
const MAX_ARRAY_RECIPIENT = 2 ** 26;

/**
 * How many times the mock accepted each delivery id. Herald's ids are counted in one byte per
 * recipient id rather than a map entry, so a million-message benchmark leaves the mock a few
 * megabytes to hold instead of a heap whose collections stall its answers. Any other id (test
 * sends) goes to a plain map.
 */
export class DeliveryCounts {
  private readonly byCampaign = new Map<number, Uint8Array>();
  private readonly others = new Map<string, number>();

  add(deliveryId: string): void {
    const parsed = parseDeliveryId(deliveryId);
    if (!parsed || parsed.recipientId >= MAX_ARRAY_RECIPIENT) {
      this.others.set(deliveryId, (this.others.get(deliveryId) ?? 0) + 1);
      return;
    }
    const { campaignId: campaign, recipientId: recipient } = parsed;
    let counts = this.byCampaign.get(campaign);
    if (!counts || recipient >= counts.length) {
      const grown = new Uint8Array(Math.max(1024, recipient + 1, (counts?.length ?? 0) * 2));
      if (counts) grown.set(counts);
      this.byCampaign.set(campaign, (counts = grown));
    }
    // Saturates at 255: anything above 1 is already a duplicate.
    if (counts[recipient]! < 255) counts[recipient]!++;
  }

  /** Delivery ids accepted more than once. */
  duplicates(): number {
    let n = 0;
    for (const counts of this.byCampaign.values()) for (const c of counts) if (c > 1) n++;
    for (const c of this.others.values()) if (c > 1) n++;
    return n;
  }

  /** Every delivery id with its count, as `/mock/deliveries` shows them. */
  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [campaign, counts] of this.byCampaign)
      counts.forEach((c, recipient) => {
        if (c > 0) out[`${campaign}.${recipient}`] = c;
      });
    for (const [id, c] of this.others) out[id] = c;
    return out;
  }

  clear(): void {
    this.byCampaign.clear();
    this.others.clear();
  }
}
