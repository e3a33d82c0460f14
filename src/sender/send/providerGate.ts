import { ProviderHealth, type HealthAnswer, type HealthSettings, type Outage } from '../../domain/providerHealth.js';

/**
 * Holds every sender of one sending domain while the provider is down (see ProviderHealth),
 * letting one probe request through now and then. Shared by all the campaigns of the domain
 * in this process.
 */
export class ProviderGate {
  private readonly health: ProviderHealth;
  private readonly waiters = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private timerDue = 0;

  constructor(
    private readonly onChange: (outage: Outage | null) => void,
    settings?: HealthSettings,
  ) {
    this.health = new ProviderHealth(settings);
  }

  get outage(): Outage | null {
    return this.health.current();
  }

  countsAgainstBudget(): boolean {
    return this.health.countsAgainstBudget();
  }

  /**
   * Resolves when a request may start: 'go', or 'probe' for the one request that tests the
   * provider during an outage, or 'aborted' once `signal` aborts (the run is stopping).
   */
  enter(signal: AbortSignal): 'go' | Promise<'go' | 'probe' | 'aborted'> {
    // Every message passes here: no promise while the provider is up.
    if (!this.health.holding() && !signal.aborted) return 'go';
    return this.wait(signal);
  }

  private async wait(signal: AbortSignal): Promise<'go' | 'probe' | 'aborted'> {
    for (;;) {
      if (signal.aborted) return 'aborted';
      const admission = this.health.admit(Date.now());
      if (admission.kind === 'go') return 'go';
      if (admission.kind === 'probe') return 'probe';
      this.arm(admission.ms);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          signal.removeEventListener('abort', wake);
          resolve();
        };
        this.waiters.add(wake);
        signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  /** A probe admitted but not sent goes back, so another sender can take it. */
  cancelProbe(): void {
    this.health.cancelProbe();
    this.wakeAll();
  }

  record(message: string | number, answer: HealthAnswer, error: string, probe: boolean, firstAttempt = true): void {
    const change = this.health.record(Date.now(), message, answer, error, probe, firstAttempt);
    if (change) this.onChange(this.health.current());
    // Closed: everyone goes. A failed probe: the waiters look again when the next one is due.
    if (change === 'closed' || probe) this.wakeAll();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wakeAll();
  }

  private arm(ms: number): void {
    const due = Date.now() + Math.max(1, ms);
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.wakeAll();
      },
      Math.max(1, ms),
    );
  }

  private wakeAll(): void {
    if (this.timer && !this.health.holding()) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    for (const wake of [...this.waiters]) wake();
  }
}
