export type UnknownPolicy = 'reconcile' | 'resend' | 'skip';

/**
 * What to do with deliveries whose outcome is unknown (their worker vanished mid-send),
 * given what the provider's event log says it accepted. Pure.
 */
export interface ReconcilePlan {
  /** recipient id → provider message id: accepted, so sent. */
  sent: Map<number, string>;
  /** Send again. */
  resend: number[];
  /** Never send again. */
  skip: number[];
}

export function planUnknown(policy: UnknownPolicy, unknownIds: readonly number[], acceptedByRecipient: ReadonlyMap<number, string>): ReconcilePlan {
  const plan: ReconcilePlan = { sent: new Map(), resend: [], skip: [] };
  for (const id of unknownIds) {
    if (policy === 'skip') plan.skip.push(id);
    else if (policy === 'resend') plan.resend.push(id);
    else {
      const providerId = acceptedByRecipient.get(id);
      if (providerId !== undefined) plan.sent.set(id, providerId);
      else plan.resend.push(id);
    }
  }
  return plan;
}
