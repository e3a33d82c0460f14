import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultipartWriter, writeUtf8 } from '../src/provider/mailgun/multipart.js';

const samples: Array<[string, string]> = [
  ['pure ASCII', 'plain text '.repeat(40)],
  ['Latin-1 here and there', `${'a'.repeat(2046)}·b·${'c'.repeat(3000)} café`],
  ['CJK', '漢字かな交じり文'.repeat(300)],
  ['emoji (surrogate pairs)', '🌷 spring 🌱'.repeat(400)],
  ['a lone surrogate', `${'x'.repeat(10)}\ud800${'y'.repeat(10)}\udc00z`],
  ['empty', ''],
];

describe('UTF-8 writing in slices', () => {
  for (const [what, value] of samples) {
    it(`writes the same bytes as the whole string: ${what}`, () => {
      const expected = Buffer.from(value, 'utf8');
      // Small slice lengths put slice ends on both halves of surrogate pairs.
      for (const sliceLength of [1, 2, 3, 7, 64, 2048, Infinity]) {
        const target = Buffer.alloc(expected.length + 8, 0xee);
        const written = writeUtf8(target, 4, value, sliceLength);
        assert.equal(written, expected.length, `length with slices of ${sliceLength}`);
        assert.deepEqual(target.subarray(4, 4 + written), expected, `bytes with slices of ${sliceLength}`);
        assert.equal(target[3], 0xee);
        assert.equal(target[4 + written], 0xee);
      }
    });
  }

  it('keeps an HTML part intact when an emoji straddles the default slice boundary', async () => {
    const writer = new MultipartWriter([['from', 'Shop <news@example.test>']]);
    for (const at of [2045, 2046, 2047, 2048, 4095]) {
      const html = `${'<p>'.padEnd(at, '.')}🌷 · ${'é'.repeat(3000)}</p>`;
      const target = Buffer.alloc(writer.maxBytes([['html', html]]));
      const length = writer.writeInto(target, 0, [
        ['html', html],
        ['to', 'a@example.test'],
      ]);
      const form = await new Response(target.subarray(0, length), { headers: { 'content-type': writer.contentType } }).formData();
      assert.equal(form.get('html'), html, `emoji at ${at}`);
      assert.equal(form.get('to'), 'a@example.test');
    }
  });
});
