/**
 * Tells a provider outage from a failing message, as pure state: the caller feeds each
 * answer with the time and the message it was for, and asks whether a request may start.
 *
 * A message that fails again and again while others are accepted has a problem of its own,
 * and its retry budget decides. When many *different* messages fail on their first attempt in
 * a row (5xx answers, refused connections, requests that time out) the provider is down: its outage must not
 * use up the retry budgets, so sending holds, one probe request goes now and then (backing
 * off), and the first answer that shows the provider working again ends the hold.
 * docs: README, "What happens on a timeout, an outage, a stall".
 */
export interface HealthSettings {
  /** Distinct messages failing their first attempt in a row (nothing accepted between) that mean an outage. */
  openAfterMessages: number;
  firstProbeMs: number;
  maxProbeMs: number;
}

const defaultHealthSettings: HealthSettings = { openAfterMessages: 10, firstProbeMs: 1000, maxProbeMs: 10_000 };

/**
 * accepted: the provider took it. answered: the provider is up but refused it (4xx, 429).
 * failed: no useful answer (5xx, a connection refused, a timeout).
 */
export type HealthAnswer = 'accepted' | 'answered' | 'failed';

export type Admission = { kind: 'go' } | { kind: 'probe' } | { kind: 'wait'; ms: number };

export interface Outage {
  since: number;
  /** The last failure seen, for the operator. */
  lastError: string;
  nextProbeAt: number;
}

export class ProviderHealth {
  private readonly failing = new Set<string | number>();
  private outage: { since: number; lastError: string; nextProbeAt: number; probeDelay: number; probing: boolean } | null = null;

  constructor(private readonly settings: HealthSettings = defaultHealthSettings) {}

  /** The outage in force, or null. */
  current(): Outage | null {
    if (!this.outage) return null;
    const { since, lastError, nextProbeAt } = this.outage;
    return { since, lastError, nextProbeAt };
  }

  /**
   * Records the answer to one request. `probe` marks the request `admit` let through as the
   * probe. Returns 'opened' or 'closed' when this answer began or ended an outage.
   */
  record(now: number, message: string | number, answer: HealthAnswer, error: string, probe = false, firstAttempt = true): 'opened' | 'closed' | null {
    if (answer !== 'failed') {
      if (this.failing.size > 0) this.failing.clear();
      if (!this.outage) return null;
      this.outage = null;
      return 'closed';
    }
    if (this.outage) {
      this.outage.lastError = error;
      if (probe) {
        this.outage.probing = false;
        this.outage.probeDelay = Math.min(this.settings.maxProbeMs, this.outage.probeDelay * 2);
        this.outage.nextProbeAt = now + this.outage.probeDelay;
      }
      return null;
    }
    // Only first attempts count: messages that failed before and keep failing, with nothing
    // new going out (the last, stubborn recipients of a campaign), are not an outage; their
    // retry budgets decide.
    if (!firstAttempt) return null;
    this.failing.add(message);
    if (this.failing.size < this.settings.openAfterMessages) return null;
    this.failing.clear();
    this.outage = { since: now, lastError: error, nextProbeAt: now + this.settings.firstProbeMs, probeDelay: this.settings.firstProbeMs, probing: false };
    return 'opened';
  }

  /** Whether a request may start now: any request, the one probe, or none for `ms`. */
  admit(now: number): Admission {
    const outage = this.outage;
    if (!outage) return { kind: 'go' };
    if (outage.probing) return { kind: 'wait', ms: this.settings.maxProbeMs };
    if (now < outage.nextProbeAt) return { kind: 'wait', ms: outage.nextProbeAt - now };
    outage.probing = true;
    return { kind: 'probe' };
  }

  /** A probe that was admitted but not sent (its run stopped) is handed back. */
  cancelProbe(): void {
    if (this.outage) this.outage.probing = false;
  }

  /** Whether an outage is in force. */
  holding(): boolean {
    return this.outage !== null;
  }

  /** Whether a failure now counts against a message's retry budget (not during an outage). */
  countsAgainstBudget(): boolean {
    return this.outage === null;
  }
}
