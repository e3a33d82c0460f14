/**
 * Writes text chunks to a pipe or an HTTP response, page by page, for the report and the list
 * export. It waits for 'drain' when the stream is full, so memory stays flat at any size. It
 * stops pulling chunks when the reader goes away (`… | head`, a closed connection), so the
 * caller stops reading the database and ends quietly, as Unix tools do on EPIPE, instead of
 * waiting for a 'drain' that never comes.
 */
export async function writeChunks(out: NodeJS.WritableStream, chunks: AsyncIterable<string>): Promise<void> {
  let gone = false;
  let wake: (() => void) | null = null;
  const onGone = (): void => {
    gone = true;
    wake?.();
  };
  out.once('error', onGone);
  out.once('close', onGone);
  const drained = (): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
      out.once('drain', () => resolve());
    });
  try {
    for await (const chunk of chunks) {
      if (gone) break;
      if (!out.write(chunk)) await drained();
    }
  } finally {
    out.off('error', onGone);
    out.off('close', onGone);
    // Later writes to a closed stdout (console.log) must not crash the process either.
    if (gone) out.on('error', () => undefined);
  }
}
