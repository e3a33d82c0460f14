/**
 * A bounded FIFO between two pipeline stages: `put` waits while the queue is full, `take`
 * waits while it is empty. This back-pressure is what keeps memory flat whatever the
 * campaign size. After `close()`, takers drain what is left and then get `undefined`.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private head = 0;
  private readonly takers: Array<(item: T | undefined) => void> = [];
  private readonly putters: Array<() => void> = [];
  private closed = false;

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new RangeError('capacity must be at least 1');
  }

  get size(): number {
    return this.items.length - this.head;
  }

  async put(item: T): Promise<void> {
    while (this.size >= this.capacity && !this.closed) {
      await new Promise<void>((resolve) => this.putters.push(resolve));
    }
    if (this.closed) throw new Error('queue is closed');
    const taker = this.takers.shift();
    if (taker) taker(item);
    else this.items.push(item);
  }

  take(): Promise<T | undefined> | T | undefined {
    if (this.size > 0) return this.shift();
    if (this.closed) return undefined;
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** Removes and returns everything queued now (used to hand back unsent work on stop). */
  drain(): T[] {
    const rest = this.items.slice(this.head);
    this.items.length = 0;
    this.head = 0;
    this.wakePutters();
    return rest;
  }

  /**
   * Rewrites what is queued now: each item is replaced by what `fn` returns, or removed when it
   * returns null (an erasure takes recipients out of claimed batches, CampaignRun.withdraw).
   */
  rewrite(fn: (item: T) => T | null): void {
    const kept: T[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const next = fn(this.items[i]!);
      if (next !== null) kept.push(next);
    }
    const freed = this.size - kept.length;
    this.items.length = 0;
    this.items.push(...kept);
    this.head = 0;
    for (let i = 0; i < freed; i++) this.putters.shift()?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const taker of this.takers.splice(0)) taker(undefined);
    this.wakePutters();
  }

  private shift(): T {
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    // Compact now and then so the array does not grow with everything that passed through.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    this.putters.shift()?.();
    return item;
  }

  private wakePutters(): void {
    for (const putter of this.putters.splice(0)) putter();
  }
}
