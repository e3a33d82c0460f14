/**
 * The segment language's parser: recursive descent over the tokens of lexer.ts, giving the
 * tree of ast.ts or the first error with its place and what was expected there. The grammar,
 * every operator and the limits are in docs/segments.md.
 */
import type { CompareOp, Field, Literal, ParseResult, SegmentAst, SegmentError, TextOp, Window } from './ast.js';
import { describe, Lexer, SegmentSyntaxError, type Token } from './lexer.js';

/** Bounds that keep a hostile or mistaken expression from costing much to parse, compile or run. */
export const SEGMENT_LIMITS = {
  /** Characters in the whole expression. */
  maxLength: 20_000,
  /** Parentheses and `not`s nested inside each other. */
  maxDepth: 20,
  /** Values in one `in (…)` list. */
  maxListValues: 1_000,
  /** Conditions (comparisons and engagement predicates) in the whole expression. */
  maxConditions: 200,
  /** `within N days`. */
  maxDays: 36_500,
  /** `in the last K campaigns`. */
  maxCampaigns: 1_000,
} as const;

/** Words that begin a condition of their own, so they cannot name an attribute bare (write attr("…")). */
const RESERVED = new Set(['and', 'or', 'not', 'opened', 'clicked', 'bounced', 'complained', 'never', 'attr']);

const CONDITION_START = [
  'an attribute name',
  "'email'",
  "'name'",
  `'attr("…")'`,
  "'opened'",
  "'clicked'",
  "'bounced'",
  "'complained'",
  "'never sent'",
  "'not'",
  "'('",
];
const OPERATORS = [
  "'='",
  "'!='",
  "'<'",
  "'<='",
  "'>'",
  "'>='",
  "'in'",
  "'contains'",
  "'starts with'",
  "'ends with'",
  "'not in'",
  "'not contains'",
  "'not starts with'",
  "'not ends with'",
  "'exists'",
  "'is empty'",
  "'is not empty'",
];
const VALUE = ['a string', 'a number'];
const COMPARE_OPS = new Set<string>(['=', '!=', '<', '<=', '>', '>=']);

export function parseSegment(text: string): ParseResult {
  try {
    if (text.length > SEGMENT_LIMITS.maxLength) {
      throw new SegmentSyntaxError(
        SEGMENT_LIMITS.maxLength,
        `the expression is ${text.length} characters long; at most ${SEGMENT_LIMITS.maxLength} are allowed`,
        [],
        `${text.length} characters`,
      );
    }
    return { ok: true, segment: new Parser(text).parse() };
  } catch (e) {
    if (e instanceof SegmentSyntaxError) return { ok: false, error: segmentError(text, e) };
    throw e;
  }
}

function segmentError(text: string, e: SegmentSyntaxError): SegmentError {
  const before = text.slice(0, e.position);
  const line = before.split('\n').length;
  const column = e.position - (before.lastIndexOf('\n') + 1) + 1;
  return { message: `at ${line}:${column}: ${e.detail}`, position: e.position, line, column, expected: e.expected, found: e.found };
}

function isWord(token: Token, ...words: string[]): boolean {
  return token.type === 'word' && words.includes(token.lower);
}

function lineColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  return `${before.split('\n').length}:${position - (before.lastIndexOf('\n') + 1) + 1}`;
}

class Parser {
  private readonly lex: Lexer;
  private depth = 0;
  private conditions = 0;

  constructor(private readonly text: string) {
    this.lex = new Lexer(text);
  }

  parse(): SegmentAst {
    const ast = this.or();
    const t = this.lex.peek();
    if (t.type !== 'eof') {
      if (t.type === 'symbol' && t.text === ')') this.fail(t, "unmatched ')': no '(' before it", ["'and'", "'or'", 'end of input']);
      this.fail(t, "expected 'and', 'or' or end of input after a condition", ["'and'", "'or'", 'end of input']);
    }
    return ast;
  }

  /** Throws a syntax error at `token`: `detail`, then what was found. */
  private fail(token: Token, detail: string, expected: string[]): never {
    const found = describe(token);
    throw new SegmentSyntaxError(token.start, `${detail}, found ${found}`, expected, found);
  }

  private expectWord(word: string, detail: string): Token {
    const t = this.lex.peek();
    if (!isWord(t, word)) this.fail(t, detail, [`'${word}'`]);
    return this.lex.next();
  }

  private expectSymbol(symbol: string, detail: string, expected: string[] = [`'${symbol}'`]): Token {
    const t = this.lex.peek();
    if (t.type !== 'symbol' || t.text !== symbol) this.fail(t, detail, expected);
    return this.lex.next();
  }

  private enter(token: Token): void {
    if (++this.depth > SEGMENT_LIMITS.maxDepth) {
      throw new SegmentSyntaxError(token.start, `parentheses and 'not' nested more than ${SEGMENT_LIMITS.maxDepth} deep`, [], describe(token));
    }
  }

  private countCondition(token: Token): void {
    if (++this.conditions > SEGMENT_LIMITS.maxConditions) {
      throw new SegmentSyntaxError(token.start, `more than ${SEGMENT_LIMITS.maxConditions} conditions in one expression`, [], describe(token));
    }
  }

  private or(): SegmentAst {
    const items = [this.and()];
    while (isWord(this.lex.peek(), 'or')) {
      this.lex.next();
      items.push(this.and());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }

  private and(): SegmentAst {
    const items = [this.unary()];
    while (isWord(this.lex.peek(), 'and')) {
      this.lex.next();
      items.push(this.unary());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  }

  private unary(): SegmentAst {
    const t = this.lex.peek();
    if (isWord(t, 'not')) {
      this.enter(t);
      this.lex.next();
      const item = this.unary();
      this.depth--;
      return { kind: 'not', item };
    }
    return this.primary();
  }

  private primary(): SegmentAst {
    const t = this.lex.peek();
    if (t.type === 'symbol' && t.text === '(') {
      this.enter(t);
      this.lex.next();
      const inner = this.or();
      this.expectSymbol(')', `expected 'and', 'or' or ')' to close the '(' at ${lineColumn(this.text, t.start)}`, ["'and'", "'or'", "')'"]);
      this.depth--;
      return inner;
    }
    if (t.type !== 'word' || isWord(t, 'and', 'or')) {
      this.fail(t, 'expected a condition (an attribute, email, name, attr("…"), opened, clicked, bounced, complained or never sent)', CONDITION_START);
    }
    this.countCondition(t);
    switch (t.lower) {
      case 'opened':
      case 'clicked': {
        this.lex.next();
        this.notAnAttribute(t);
        return { kind: 'activity', event: t.lower, window: this.window(t.text) };
      }
      case 'bounced':
      case 'complained':
        this.lex.next();
        this.notAnAttribute(t);
        return { kind: t.lower };
      case 'never':
        this.lex.next();
        this.notAnAttribute(t);
        this.expectWord('sent', "expected 'sent' after 'never'");
        return { kind: 'neverSent' };
      default:
        return this.test(this.field());
    }
  }

  /** `opened = "yes"`: the word is the engagement condition; an attribute of that name is written attr("opened"). */
  private notAnAttribute(word: Token & { type: 'word' }): void {
    const t = this.lex.peek();
    const looksLikeTest =
      (t.type === 'symbol' && COMPARE_OPS.has(t.text)) ||
      isWord(t, 'contains', 'starts', 'ends', 'exists', 'is') ||
      (isWord(t, 'in') && this.lex.peek(1).type === 'symbol');
    if (looksLikeTest) {
      this.fail(t, `'${word.text}' is an engagement condition, not an attribute (an attribute called ${word.text} is written attr("${word.text}"))`, [
        "'and'",
        "'or'",
        'end of input',
      ]);
    }
  }

  private window(word: string): Window {
    const t = this.lex.peek();
    if (isWord(t, 'within')) {
      this.lex.next();
      const days = this.wholeNumber(`after 'within'`, 'days', SEGMENT_LIMITS.maxDays);
      const unit = this.lex.peek();
      if (!isWord(unit, 'days', 'day')) this.fail(unit, `expected 'days' after 'within ${days}'`, ["'days'"]);
      this.lex.next();
      return { kind: 'days', days };
    }
    if (isWord(t, 'in')) {
      this.lex.next();
      this.expectWord('the', `expected 'the' after '${word} in' (as in: ${word} in the last 3 campaigns)`);
      this.expectWord('last', `expected 'last' after '${word} in the'`);
      let count = 1;
      if (this.lex.peek().type === 'number') count = this.wholeNumber(`after 'in the last'`, 'campaigns', SEGMENT_LIMITS.maxCampaigns);
      const unit = this.lex.peek();
      if (!isWord(unit, 'campaigns', 'campaign')) this.fail(unit, `expected 'campaigns' after 'in the last${count === 1 ? '' : ` ${count}`}'`, ["'campaigns'"]);
      this.lex.next();
      return { kind: 'campaigns', count };
    }
    return { kind: 'ever' };
  }

  private wholeNumber(where: string, what: string, max: number): number {
    const t = this.lex.peek();
    if (t.type !== 'number' || !/^[0-9]+$/.test(t.text)) this.fail(t, `expected a whole number of ${what} ${where}`, ['a whole number']);
    const n = Number(t.text);
    if (n < 1 || n > max) {
      throw new SegmentSyntaxError(t.start, `the number of ${what} must be between 1 and ${max}, found ${t.text}`, [`a whole number from 1 to ${max}`], t.text);
    }
    this.lex.next();
    return n;
  }

  private field(): Field {
    const t = this.lex.next() as Token & { type: 'word' };
    if (t.lower === 'attr') {
      this.expectSymbol('(', `expected '(' after 'attr' (as in: attr("first name"))`);
      const name = this.lex.peek();
      if (name.type !== 'string') this.fail(name, `expected the attribute's name as a string after 'attr('`, ['a string']);
      this.lex.next();
      const close = this.expectSymbol(')', `expected ')' after the attribute name`);
      return { kind: 'attribute', name: name.value, span: { start: t.start, end: close.end } };
    }
    const span = { start: t.start, end: t.end };
    if (t.lower === 'email') return { kind: 'email', span };
    if (t.lower === 'name') return { kind: 'name', span };
    if (RESERVED.has(t.lower)) this.fail(t, 'expected a condition', CONDITION_START);
    return { kind: 'attribute', name: t.text, span };
  }

  private fieldText(field: Field): string {
    return this.text.slice(field.span.start, field.span.end);
  }

  private test(field: Field): SegmentAst {
    const t = this.lex.peek();
    if (t.type === 'symbol' && COMPARE_OPS.has(t.text)) {
      this.lex.next();
      const value = this.literal(`after '${t.text}'`);
      const ignoreCase = this.ignoringCase(value.type === 'number' ? value.value : null);
      return { kind: 'compare', field, op: t.text as CompareOp, value, ignoreCase };
    }
    let negated = false;
    if (isWord(t, 'not')) {
      this.lex.next();
      negated = true;
      const after = this.lex.peek();
      if (!isWord(after, 'in', 'contains', 'starts', 'ends'))
        this.fail(after, `expected 'in', 'contains', 'starts with' or 'ends with' after 'not'`, ["'in'", "'contains'", "'starts with'", "'ends with'"]);
    }
    const op = this.lex.peek();
    if (isWord(op, 'in')) {
      this.lex.next();
      return this.list(field, negated);
    }
    if (isWord(op, 'contains', 'starts', 'ends')) {
      this.lex.next();
      let kind: TextOp = 'contains';
      let shown = 'contains';
      if (op.type === 'word' && op.lower !== 'contains') {
        this.expectWord('with', `expected 'with' after '${op.text}'`);
        kind = op.lower === 'starts' ? 'startsWith' : 'endsWith';
        shown = `${op.text} with`;
      }
      const value = this.lex.peek();
      if (value.type !== 'string') this.fail(value, `expected a string after '${shown}'`, ['a string']);
      this.lex.next();
      return { kind: 'text', field, op: kind, value: value.value, negated, ignoreCase: this.ignoringCase(null) };
    }
    if (isWord(op, 'exists')) {
      this.lex.next();
      return { kind: 'present', field, present: true };
    }
    if (isWord(op, 'is')) {
      this.lex.next();
      const next = this.lex.peek();
      if (isWord(next, 'not')) {
        this.lex.next();
        this.expectWord('empty', "expected 'empty' after 'is not'");
        return { kind: 'present', field, present: true };
      }
      if (!isWord(next, 'empty')) this.fail(next, "expected 'empty' or 'not empty' after 'is'", ["'empty'", "'not'"]);
      this.lex.next();
      return { kind: 'present', field, present: false };
    }
    return this.fail(
      op,
      `expected an operator after '${this.fieldText(field)}' (=, !=, <, <=, >, >=, in, contains, starts with, ends with, exists, is empty)`,
      OPERATORS,
    );
  }

  private literal(where: string): Literal {
    const t = this.lex.peek();
    if (t.type === 'string') {
      this.lex.next();
      return { type: 'string', value: t.value };
    }
    if (t.type === 'number') {
      this.lex.next();
      return { type: 'number', value: t.text };
    }
    if (t.type === 'word' && !RESERVED.has(t.lower)) {
      this.fail(t, `expected a value (string or number) ${where} (strings are written in quotes: "${t.text}")`, VALUE);
    }
    return this.fail(t, `expected a value (string or number) ${where}`, VALUE);
  }

  /** An optional `ignoring case` after a string operand; `number` is the operand's text when it is a number (which has no case). */
  private ignoringCase(number: string | null): boolean {
    const t = this.lex.peek();
    if (!isWord(t, 'ignoring')) return false;
    if (number !== null) {
      throw new SegmentSyntaxError(t.start, `'ignoring case' applies to strings, and ${number} is a number`, ["'and'", "'or'", 'end of input'], describe(t));
    }
    this.lex.next();
    this.expectWord('case', "expected 'case' after 'ignoring'");
    return true;
  }

  private list(field: Field, negated: boolean): SegmentAst {
    const keyword = negated ? 'not in' : 'in';
    this.expectSymbol('(', `expected '(' after '${keyword}' (as in: city ${keyword} ("Berlin", "Paris"))`);
    const values: string[] = [];
    let valueType: 'string' | 'number' | null = null;
    for (;;) {
      const t = this.lex.peek();
      if (values.length === SEGMENT_LIMITS.maxListValues) {
        throw new SegmentSyntaxError(t.start, `a list holds at most ${SEGMENT_LIMITS.maxListValues} values`, ["')'"], describe(t));
      }
      const value = this.literal(values.length === 0 ? `after '('` : `after ','`);
      if (valueType !== null && value.type !== valueType) {
        throw new SegmentSyntaxError(
          t.start,
          `a list holds only strings or only numbers: expected a ${valueType} like the values before it, found ${describe(t)}`,
          [`a ${valueType}`],
          describe(t),
        );
      }
      valueType = value.type;
      values.push(value.value);
      const sep = this.lex.peek();
      if (sep.type === 'symbol' && sep.text === ',') {
        this.lex.next();
        continue;
      }
      if (sep.type === 'symbol' && sep.text === ')') {
        this.lex.next();
        break;
      }
      this.fail(sep, "expected ',' or ')' in the list", ["','", "')'"]);
    }
    const ignoreCase = this.ignoringCase(valueType === 'number' ? values[0]! : null);
    return { kind: 'in', field, valueType: valueType!, values, negated, ignoreCase };
  }
}
