import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { stringify, type Stringifier } from 'csv-stringify';

/** The rows an import could not take: line number, reason, and the original text. */
export class RejectsFile {
  count = 0;
  private readonly csv: Stringifier;
  private readonly out: WriteStream;

  constructor(readonly path: string) {
    this.out = createWriteStream(path);
    this.csv = stringify({ header: true, columns: ['line', 'reason', 'raw'] });
    this.csv.pipe(this.out);
  }

  async add(line: number, reason: string, raw: string): Promise<void> {
    this.count++;
    if (!this.csv.write([line, reason, raw])) await once(this.csv, 'drain');
  }

  async close(): Promise<void> {
    this.csv.end();
    await once(this.out, 'finish');
  }
}
