/**
 * What encoding a rendered HTML part into a request body costs on the running Node: the
 * spring-sale template rendered for 300 recipients, each written into a Buffer as UTF-8 in
 * one call, in 2 KB slices, the way the render threads do it on this Node (`writeUtf8`), and
 * as Latin-1 (a plain copy, for scale). Prints µs per message, median of 5 rounds. Run it
 * with each Node to compare:
 *   npm run bench:encode                      (and the same with Node 24 first on PATH)
 */
import { writeUtf8 } from '../../src/provider/mailgun/multipart.js';
import { compileContent } from '../../src/sender/render/compile.js';
import { buildContent } from '../../src/sender/render/content.js';
import { templatesDir } from '../../src/config/paths.js';
import { median } from '../lib/report.js';

const compiled = compileContent((await buildContent(templatesDir(), 'spring-sale', 'Spring sale for {{ name }}')).sources);
const htmls: string[] = [];
for (let i = 1; i <= 300; i++) {
  const attributes = { city: `City ${i % 500}`, products: i % 3 === 0 ? 'tent,lantern,boots,pack,stove,jacket' : '' };
  htmls.push(
    compiled.html.render({
      ...compiled.globals,
      recipient: { ...attributes, email: `reader${i}@example.com`, name: `Reader ${i}` },
      name: `Reader ${i}`,
      email: `reader${i}@example.com`,
      attributes,
      campaign: { id: 1, name: 'encode bench' },
      unsubscribe_url: '#',
      now: new Date(),
    }),
  );
}
const target = Buffer.allocUnsafe(1 << 20);

function perMessageMicros(encode: (html: string) => number): number {
  const rounds: number[] = [];
  for (let round = 0; round < 5; round++) {
    const started = process.hrtime.bigint();
    let bytes = 0;
    for (let repeat = 0; repeat < 20; repeat++) for (const html of htmls) bytes += encode(html);
    if (bytes === 0) throw new Error('nothing written');
    rounds.push(Number(process.hrtime.bigint() - started) / 1000 / (20 * htmls.length));
  }
  return median(rounds);
}

const sizes = htmls.map((h) => Buffer.byteLength(h));
console.log(
  `Node ${process.version}: ${htmls.length} rendered HTML parts of ${Math.min(...sizes).toLocaleString('en')}–${Math.max(...sizes).toLocaleString('en')} bytes`,
);
console.log(`  UTF-8, whole string in one call:      ${perMessageMicros((h) => target.write(h, 0, 'utf8')).toFixed(2)} µs per message`);
console.log(`  UTF-8 in 2 KB slices:                 ${perMessageMicros((h) => writeUtf8(target, 0, h, 2048)).toFixed(2)} µs per message`);
console.log(`  UTF-8 as the render threads write it: ${perMessageMicros((h) => writeUtf8(target, 0, h)).toFixed(2)} µs per message`);
console.log(`  Latin-1 (a plain copy, for scale):    ${perMessageMicros((h) => target.write(h, 0, 'latin1')).toFixed(2)} µs per message`);
