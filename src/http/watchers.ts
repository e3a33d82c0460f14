/**
 * Shared pollers behind the server-sent event streams: one per watched key (a campaign, the
 * campaign list) for all of its subscribers, however many. The poller reads the key, waits
 * `intervalMs` after each answer (so a slow query never overlaps the next one) and sends the
 * answer to every subscriber only when its JSON changed; a new subscriber gets the last answer
 * at once. `poke` re-reads a key now (after a write through the API). A comment line every
 * `heartbeatMs` keeps idle connections (and the proxies in between) open. The poller stops
 * when its last subscriber leaves.
 */
export interface WatchersOptions {
  heartbeatMs: number;
  onError: (key: string, err: unknown) => void;
}

/** One stream: receives server-sent event text, already framed. */
export interface Subscriber {
  send(chunk: string): void;
}

interface Poller {
  key: string;
  intervalMs: number;
  load: () => Promise<unknown>;
  subscribers: Set<Subscriber>;
  lastJson: string | null;
  timer: NodeJS.Timeout | null;
  heartbeat: NodeJS.Timeout;
  inFlight: boolean;
  /** A poke came while a read was in flight: read again as soon as it answers. */
  again: boolean;
  stopped: boolean;
}

export class Watchers {
  private readonly pollers = new Map<string, Poller>();
  private streams = 0;

  constructor(private readonly options: WatchersOptions) {}

  /** Running pollers and open streams, for the metrics and the tests. */
  counts(): { pollers: number; streams: number } {
    return { pollers: this.pollers.size, streams: this.streams };
  }

  /** Adds a subscriber to `key`'s poller (starting it); returns the function that removes it. */
  subscribe(key: string, intervalMs: number, load: () => Promise<unknown>, subscriber: Subscriber): () => void {
    let poller = this.pollers.get(key);
    if (poller) {
      poller.subscribers.add(subscriber);
      if (poller.lastJson !== null) subscriber.send(dataEvent(poller.lastJson));
    } else {
      const p: Poller = {
        key,
        intervalMs,
        load,
        subscribers: new Set([subscriber]),
        lastJson: null,
        timer: null,
        heartbeat: setInterval(() => this.broadcast(p, ': keep-alive\n\n'), this.options.heartbeatMs),
        inFlight: false,
        again: false,
        stopped: false,
      };
      poller = p;
      this.pollers.set(key, p);
      this.poll(p);
    }
    this.streams++;
    const owner = poller;
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.streams--;
      owner.subscribers.delete(subscriber);
      if (owner.subscribers.size === 0) this.stop(owner);
    };
  }

  /** Re-reads `key` now if someone watches it. */
  poke(key: string): void {
    const p = this.pollers.get(key);
    if (!p) return;
    if (p.inFlight) {
      p.again = true;
      return;
    }
    if (p.timer) clearTimeout(p.timer);
    this.poll(p);
  }

  /** Stops every poller (the server is closing). */
  close(): void {
    for (const p of [...this.pollers.values()]) this.stop(p);
  }

  private poll(p: Poller): void {
    p.timer = null;
    p.inFlight = true;
    p.again = false;
    p.load()
      .then(
        (value) => {
          if (p.stopped) return;
          const json = JSON.stringify(value);
          if (json === p.lastJson) return;
          p.lastJson = json;
          this.broadcast(p, dataEvent(json));
        },
        (err: unknown) => {
          if (!p.stopped) this.options.onError(p.key, err);
        },
      )
      .finally(() => {
        p.inFlight = false;
        if (p.stopped) return;
        if (p.again) this.poll(p);
        else p.timer = setTimeout(() => this.poll(p), p.intervalMs);
      });
  }

  private broadcast(p: Poller, chunk: string): void {
    for (const s of p.subscribers) s.send(chunk);
  }

  private stop(p: Poller): void {
    p.stopped = true;
    if (p.timer) clearTimeout(p.timer);
    clearInterval(p.heartbeat);
    if (this.pollers.get(p.key) === p) this.pollers.delete(p.key);
  }
}

/** One server-sent event carrying a JSON document (one line: JSON.stringify escapes newlines). */
function dataEvent(json: string): string {
  return `data: ${json}\n\n`;
}
