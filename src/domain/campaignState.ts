export type CampaignStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'cancelled' | 'finished';

/** Which command may move a campaign from which status. The database enforces it atomically. */
export type CampaignAction = 'start' | 'schedule' | 'pause' | 'resume' | 'cancel' | 'finish' | 'retry';

const transitions: Record<CampaignAction, { from: CampaignStatus[]; to: CampaignStatus }> = {
  start: { from: ['draft', 'scheduled', 'paused'], to: 'running' },
  schedule: { from: ['draft', 'scheduled'], to: 'scheduled' },
  pause: { from: ['running', 'scheduled'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  cancel: { from: ['draft', 'scheduled', 'running', 'paused'], to: 'cancelled' },
  finish: { from: ['running'], to: 'finished' },
  // retry-failed re-opens a finished campaign for the deliveries it re-queued.
  retry: { from: ['finished'], to: 'running' },
};

export function transitionFor(action: CampaignAction): { from: CampaignStatus[]; to: CampaignStatus } {
  return transitions[action];
}

export function canTransition(action: CampaignAction, from: CampaignStatus): boolean {
  return transitions[action].from.includes(from);
}
