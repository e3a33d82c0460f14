import cliProgress from 'cli-progress';

export interface ProgressSnapshot {
  total: number;
  done: number;
  sent: number;
  failed: number;
  /** Held back by the sending domain's daily cap until then. */
  waitingUntil: Date | null;
}

const note = (s: ProgressSnapshot): string => (s.waitingUntil ? ` | waiting: daily cap reached, continues ${s.waitingUntil.toISOString()}` : '');

/**
 * Live progress for `campaign start --wait`: a progress bar on a terminal, a plain line every
 * few seconds otherwise (logs, CI). Returns a stop function.
 */
export function showProgress(read: () => ProgressSnapshot, stream: NodeJS.WriteStream = process.stdout): () => void {
  const started = Date.now();
  const first = read();
  const rate = (s: ProgressSnapshot): number => Math.round((s.done - first.done) / Math.max(0.001, (Date.now() - started) / 1000));
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: '{bar} {percentage}% | {done}/{total} | sent {sent} | failed {failed} | {rate}/s | ETA {eta_formatted}{note}',
        hideCursor: true,
        etaBuffer: 50,
        stream,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(first.total, first.done, { sent: first.sent, failed: first.failed, rate: 0, done: first.done, note: note(first) });
    const timer = setInterval(() => {
      const s = read();
      bar.setTotal(s.total);
      bar.update(s.done, { sent: s.sent, failed: s.failed, rate: rate(s), done: s.done, note: note(s) });
    }, 200);
    return () => {
      clearInterval(timer);
      const s = read();
      bar.update(s.done, { sent: s.sent, failed: s.failed, rate: rate(s), done: s.done, note: note(s) });
      bar.stop();
    };
  }
  const timer = setInterval(() => {
    const s = read();
    const r = rate(s);
    const eta = r > 0 ? Math.round((s.total - s.done) / r) : null;
    stream.write(`progress: ${s.done}/${s.total} sent=${s.sent} failed=${s.failed} rate=${r}/s eta=${eta === null ? '?' : `${eta}s`}${note(s)}\n`);
  }, 5000);
  return () => clearInterval(timer);
}
