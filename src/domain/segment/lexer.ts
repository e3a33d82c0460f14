/**
 * Splits a segment expression into tokens, one at a time as the parser asks (so the first
 * error in the text is the one reported, whether it is a bad character or bad grammar).
 */

export type Token =
  | { type: 'word'; text: string; lower: string; start: number; end: number }
  | { type: 'string'; value: string; start: number; end: number }
  | { type: 'number'; text: string; start: number; end: number }
  | { type: 'symbol'; text: SymbolText; start: number; end: number }
  | { type: 'eof'; start: number; end: number };

export type SymbolText = '(' | ')' | ',' | '=' | '!=' | '<' | '<=' | '>' | '>=';

/** A problem at one place of the text; parseSegment turns it into a SegmentError. */
export class SegmentSyntaxError extends Error {
  constructor(
    readonly position: number,
    /** The message without its `at LINE:COLUMN:` prefix. */
    readonly detail: string,
    readonly expected: string[],
    readonly found: string,
  ) {
    super(detail);
  }
}

const WORD = /[\p{L}_][\p{L}\p{M}\p{N}_]*/uy;
const NUMBER = /-?[0-9]+(?:\.[0-9]+)?/y;
const SPACE = /\s*/uy;
const TYPOGRAPHIC_QUOTES = new Set(['\u201c', '\u201d', '\u201e', '\u2018', '\u2019', '\u201a', '\u00ab', '\u00bb']);
const ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', "'": "'", n: '\n', t: '\t' };

/** How a token is named in an error message. */
export function describe(token: Token): string {
  switch (token.type) {
    case 'eof':
      return 'end of input';
    case 'word':
      return token.text.length > 40 ? `'${token.text.slice(0, 36)}…'` : `'${token.text}'`;
    case 'symbol':
      return `'${token.text}'`;
    case 'number':
      return token.text;
    case 'string': {
      const shown = JSON.stringify(token.value);
      return shown.length > 40 ? `${shown.slice(0, 36)}…"` : shown;
    }
  }
}

export class Lexer {
  private pos = 0;
  private readonly ahead: Token[] = [];

  constructor(private readonly text: string) {}

  /** The token `n` places ahead (0: the next one), without consuming it. */
  peek(n = 0): Token {
    while (this.ahead.length <= n) {
      const last = this.ahead[this.ahead.length - 1];
      if (last?.type === 'eof') return last;
      this.ahead.push(this.read());
    }
    return this.ahead[n]!;
  }

  next(): Token {
    const token = this.peek();
    if (token.type !== 'eof') this.ahead.shift();
    return token;
  }

  private read(): Token {
    SPACE.lastIndex = this.pos;
    SPACE.exec(this.text);
    const start = SPACE.lastIndex;
    this.pos = start;
    const text = this.text;
    if (start >= text.length) return { type: 'eof', start, end: start };
    const c = text[start]!;
    const two = text.slice(start, start + 2);
    if (two === '!=' || two === '<>') return this.symbol('!=', start, 2);
    if (two === '<=' || two === '>=') return this.symbol(two, start, 2);
    if (c === '(' || c === ')' || c === ',' || c === '=' || c === '<' || c === '>') return this.symbol(c, start, 1);
    if (c === '"' || c === "'") return this.string(c, start);
    NUMBER.lastIndex = start;
    const number = NUMBER.exec(text);
    if (number) {
      this.pos = NUMBER.lastIndex;
      return { type: 'number', text: number[0], start, end: this.pos };
    }
    WORD.lastIndex = start;
    const word = WORD.exec(text);
    if (word) {
      this.pos = WORD.lastIndex;
      return { type: 'word', text: word[0], lower: word[0].toLowerCase(), start, end: this.pos };
    }
    const char = String.fromCodePoint(text.codePointAt(start)!);
    if (TYPOGRAPHIC_QUOTES.has(char)) {
      throw new SegmentSyntaxError(start, `found the typographic quote ${char}: write strings between straight quotes, "…" or '…'`, ['"', "'"], `'${char}'`);
    }
    if (char === '!') throw new SegmentSyntaxError(start, `unexpected '!' (not equal is written != )`, ["'!='"], "'!'");
    throw new SegmentSyntaxError(start, `unexpected character '${char}'`, [], `'${char}'`);
  }

  private symbol(text: SymbolText, start: number, length: number): Token {
    this.pos = start + length;
    return { type: 'symbol', text, start, end: this.pos };
  }

  private string(quote: string, start: number): Token {
    const text = this.text;
    let value = '';
    let i = start + 1;
    for (;;) {
      if (i >= text.length || text[i] === '\n' || text[i] === '\r') {
        const found = i >= text.length ? 'end of input' : 'end of line';
        throw new SegmentSyntaxError(start, `unterminated string: expected a closing ${quote} before the ${found}`, [quote], found);
      }
      const c = text[i]!;
      if (c === quote) break;
      if (c === '\\') {
        const e = text[i + 1];
        const replaced = e === undefined ? undefined : ESCAPES[e];
        if (replaced === undefined) {
          const shown = e === undefined ? 'end of input' : `'\\${e}'`;
          throw new SegmentSyntaxError(
            i,
            `unknown escape ${shown} in a string (write \\\\ for a backslash, \\${quote} for a quote)`,
            ["'\\\\'", `'\\${quote}'`],
            shown,
          );
        }
        value += replaced;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    this.pos = i + 1;
    return { type: 'string', value, start, end: this.pos };
  }
}
