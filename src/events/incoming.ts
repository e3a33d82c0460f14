import { parseDeliveryId } from '../domain/deliveryId.js';
import type { ProviderEvent } from '../provider/provider.js';
import type { IncomingEvent } from './recordEvents.js';

/** A provider event (parsed from a webhook or the provider's log) on its way to recordEvents. */
export function incomingFrom(event: ProviderEvent, source: IncomingEvent['source'], payload: string, token?: string): IncomingEvent {
  return {
    id: event.id,
    type: event.type,
    at: event.at,
    severity: event.severity,
    reason: event.reason,
    code: event.code,
    url: event.url,
    delivery: event.deliveryId ? parseDeliveryId(event.deliveryId) : null,
    deliveryText: event.deliveryId ?? null,
    payload,
    source,
    token,
  };
}
