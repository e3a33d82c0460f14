/**
 * A counting semaphore whose size can change while in use (a domain's max concurrency is
 * shared by every campaign sending through it, and split among the live workers).
 */
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private limit: number) {}

  setLimit(limit: number): void {
    this.limit = Math.max(1, limit);
    this.wakeWaiters();
  }

  acquire(): Promise<void> | void {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    this.active--;
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()!();
    }
  }
}
