import { createHash } from 'node:crypto';

export interface FaultRates {
  /** Share of requests answered 503 (transient). */
  failRate: number;
  /** Share of requests answered 429 (transient). */
  throttleRate: number;
  /** Share of deliveries refused with 400 on every attempt. */
  permanentFailRate: number;
  /** Share of deliveries answered 503 on every attempt (transient errors that never clear). */
  stuckRate: number;
  /** With a seed, transient faults are reproducible per (delivery, attempt). */
  seed: number | null;
}

export type Fault = 'none' | 'unavailable' | 'throttled' | 'permanent';

/** A number in [0, 1) from a hash: stable for the same inputs. */
function unit(...parts: Array<string | number>): number {
  const digest = createHash('sha1').update(parts.join('|')).digest();
  return digest.readUInt32BE(0) / 0x1_0000_0000;
}

/**
 * Picks the fault for a request. Permanence depends only on the delivery id, so a message
 * refused once is refused again; transient faults depend on the attempt too, so a retry
 * can succeed.
 */
export function pickFault(rates: FaultRates, deliveryId: string | undefined, attempt: number): Fault {
  const seed = rates.seed ?? 0;
  if (rates.permanentFailRate > 0 && deliveryId !== undefined && unit('permanent', seed, deliveryId) < rates.permanentFailRate) {
    return 'permanent';
  }
  if (rates.stuckRate > 0 && deliveryId !== undefined && unit('stuck', seed, deliveryId) < rates.stuckRate) return 'unavailable';
  const roll = rates.seed !== null && deliveryId !== undefined ? unit('transient', seed, deliveryId, attempt) : Math.random();
  if (roll < rates.failRate) return 'unavailable';
  if (roll < rates.failRate + rates.throttleRate) return 'throttled';
  return 'none';
}
