import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attributesOf, parseSegment, SEGMENT_LIMITS, type SegmentAst, type SegmentError } from '../src/domain/segment/index.js';

function ok(text: string): SegmentAst {
  const result = parseSegment(text);
  if (!result.ok) assert.fail(`${JSON.stringify(text)} did not parse: ${result.error.message}`);
  return result.segment;
}

function bad(text: string): SegmentError {
  const result = parseSegment(text);
  if (result.ok) assert.fail(`${JSON.stringify(text)} parsed, expected an error: ${JSON.stringify(result.segment)}`);
  return result.error;
}

/** The tree without source positions, to compare shapes. */
function shape(node: unknown): unknown {
  return JSON.parse(JSON.stringify(node, (key, value) => (key === 'span' ? undefined : value)));
}

const attr = (name: string) => ({ kind: 'attribute', name });

describe('segment language: parsing', () => {
  it("parses the issue's example as written", () => {
    const text = 'plan = "pro" and score >= 50 and city in ("Berlin", "Paris") and clicked within 90 days and not bounced';
    assert.deepEqual(shape(ok(text)), {
      kind: 'and',
      items: [
        { kind: 'compare', field: attr('plan'), op: '=', value: { type: 'string', value: 'pro' }, ignoreCase: false },
        { kind: 'compare', field: attr('score'), op: '>=', value: { type: 'number', value: '50' }, ignoreCase: false },
        { kind: 'in', field: attr('city'), valueType: 'string', values: ['Berlin', 'Paris'], negated: false, ignoreCase: false },
        { kind: 'activity', event: 'clicked', window: { kind: 'days', days: 90 } },
        { kind: 'not', item: { kind: 'bounced' } },
      ],
    });
    assert.deepEqual(attributesOf(ok(text)), ['plan', 'score', 'city']);
  });

  it('gives and precedence over or, not over both, and parentheses over all', () => {
    const a = { kind: 'compare', field: attr('a'), op: '=', value: { type: 'number', value: '1' }, ignoreCase: false };
    const b = { ...a, field: attr('b') };
    const c = { ...a, field: attr('c') };
    assert.deepEqual(shape(ok('a = 1 or b = 1 and c = 1')), { kind: 'or', items: [a, { kind: 'and', items: [b, c] }] });
    assert.deepEqual(shape(ok('(a = 1 or b = 1) and c = 1')), { kind: 'and', items: [{ kind: 'or', items: [a, b] }, c] });
    assert.deepEqual(shape(ok('not a = 1 and b = 1')), { kind: 'and', items: [{ kind: 'not', item: a }, b] });
    assert.deepEqual(shape(ok('not (a = 1 and b = 1)')), { kind: 'not', item: { kind: 'and', items: [a, b] } });
    assert.deepEqual(shape(ok('not not a = 1')), { kind: 'not', item: { kind: 'not', item: a } });
    assert.deepEqual(shape(ok('A = 1 OR b = 1 And c = 1')), {
      kind: 'or',
      items: [
        { ...a, field: attr('A') },
        { kind: 'and', items: [b, c] },
      ],
    });
  });

  it('reads every comparison, with numbers kept as decimal text', () => {
    for (const op of ['=', '!=', '<', '<=', '>', '>='] as const) {
      assert.deepEqual(shape(ok(`score ${op} -12.50`)), {
        kind: 'compare',
        field: attr('score'),
        op,
        value: { type: 'number', value: '-12.50' },
        ignoreCase: false,
      });
    }
    assert.deepEqual(shape(ok('score <> 3')), { kind: 'compare', field: attr('score'), op: '!=', value: { type: 'number', value: '3' }, ignoreCase: false });
    assert.deepEqual(shape(ok(`signup >= '2026-01-01'`)), {
      kind: 'compare',
      field: attr('signup'),
      op: '>=',
      value: { type: 'string', value: '2026-01-01' },
      ignoreCase: false,
    });
    assert.deepEqual(shape(ok('score=5')), { kind: 'compare', field: attr('score'), op: '=', value: { type: 'number', value: '5' }, ignoreCase: false });
  });

  it('reads the string tests, lists, presence and the case-insensitive form', () => {
    assert.deepEqual(shape(ok('company contains "Acme"')), {
      kind: 'text',
      field: attr('company'),
      op: 'contains',
      value: 'Acme',
      negated: false,
      ignoreCase: false,
    });
    assert.deepEqual(shape(ok('email ends with "@example.com" ignoring case')), {
      kind: 'text',
      field: { kind: 'email' },
      op: 'endsWith',
      value: '@example.com',
      negated: false,
      ignoreCase: true,
    });
    assert.deepEqual(shape(ok('name not starts with "Dr"')), {
      kind: 'text',
      field: { kind: 'name' },
      op: 'startsWith',
      value: 'Dr',
      negated: true,
      ignoreCase: false,
    });
    assert.deepEqual(shape(ok('plan = "PRO" ignoring case')), {
      kind: 'compare',
      field: attr('plan'),
      op: '=',
      value: { type: 'string', value: 'PRO' },
      ignoreCase: true,
    });
    assert.deepEqual(shape(ok('tier not in (1, 2) ')), {
      kind: 'in',
      field: attr('tier'),
      valueType: 'number',
      values: ['1', '2'],
      negated: true,
      ignoreCase: false,
    });
    assert.deepEqual(shape(ok('city in ("berlin") ignoring case')), {
      kind: 'in',
      field: attr('city'),
      valueType: 'string',
      values: ['berlin'],
      negated: false,
      ignoreCase: true,
    });
    assert.deepEqual(shape(ok('phone exists')), { kind: 'present', field: attr('phone'), present: true });
    assert.deepEqual(shape(ok('phone is empty')), { kind: 'present', field: attr('phone'), present: false });
    assert.deepEqual(shape(ok('phone is not empty')), { kind: 'present', field: attr('phone'), present: true });
  });

  it('reads the engagement conditions', () => {
    assert.deepEqual(shape(ok('opened within 30 days')), { kind: 'activity', event: 'opened', window: { kind: 'days', days: 30 } });
    assert.deepEqual(shape(ok('clicked within 1 day')), { kind: 'activity', event: 'clicked', window: { kind: 'days', days: 1 } });
    assert.deepEqual(shape(ok('opened in the last 3 campaigns')), { kind: 'activity', event: 'opened', window: { kind: 'campaigns', count: 3 } });
    assert.deepEqual(shape(ok('clicked in the last campaign')), { kind: 'activity', event: 'clicked', window: { kind: 'campaigns', count: 1 } });
    assert.deepEqual(shape(ok('opened')), { kind: 'activity', event: 'opened', window: { kind: 'ever' } });
    assert.deepEqual(shape(ok('bounced or complained')), { kind: 'or', items: [{ kind: 'bounced' }, { kind: 'complained' }] });
    assert.deepEqual(shape(ok('Never Sent')), { kind: 'neverSent' });
    assert.deepEqual(shape(ok('opened or clicked within 7 days')), {
      kind: 'or',
      items: [
        { kind: 'activity', event: 'opened', window: { kind: 'ever' } },
        { kind: 'activity', event: 'clicked', window: { kind: 'days', days: 7 } },
      ],
    });
  });

  it('names attributes bare, by attr("…") for any other name, and keeps email and name for the columns', () => {
    assert.deepEqual(shape(ok('attr("first name") = "Ann"')), {
      kind: 'compare',
      field: attr('first name'),
      op: '=',
      value: { type: 'string', value: 'Ann' },
      ignoreCase: false,
    });
    assert.deepEqual(attributesOf(ok('attr("email") exists and email exists and Name exists and attr("bounced") = "yes"')), ['email', 'bounced']);
    assert.deepEqual(attributesOf(ok('städt = "Köln" and _x1 = 1 and in = 2 and days = 3')), ['städt', '_x1', 'in', 'days']);
    assert.deepEqual(attributesOf(ok('a = 1 and (a = 2 or b = 3)')), ['a', 'b']);
    const field = (ok('  attr("x") exists') as { field: { span: unknown } }).field;
    assert.deepEqual(field.span, { start: 2, end: 11 });
  });

  it('reads strings with escapes in either quote and keeps them literal', () => {
    assert.deepEqual(shape(ok(String.raw`note = "say \"hi\" \\ it's"`)), {
      kind: 'compare',
      field: attr('note'),
      op: '=',
      value: { type: 'string', value: `say "hi" \\ it's` },
      ignoreCase: false,
    });
    assert.equal((ok(String.raw`note = 'it\'s\n'`) as { value: { value: string } }).value.value, "it's\n");
    const sqlish = `name = "x'); drop table recipients; --"`;
    assert.equal((ok(sqlish) as { value: { value: string } }).value.value, "x'); drop table recipients; --");
  });

  it('spans lines', () => {
    const ast = ok('plan = "pro"\n  and (city = "Berlin"\n       or city = "Paris")');
    assert.deepEqual(attributesOf(ast), ['plan', 'city']);
  });
});

describe('segment language: errors name the place and what was expected', () => {
  it('after an operator with nothing after it', () => {
    const e = bad('plan = "pro" and score >=');
    assert.equal(e.message, "at 1:26: expected a value (string or number) after '>=', found end of input");
    assert.deepEqual([e.position, e.line, e.column, e.found], [25, 1, 26, 'end of input']);
    assert.deepEqual(e.expected, ['a string', 'a number']);
  });

  it('on a later line, with the column counted from that line', () => {
    const e = bad('plan = "pro"\nand city = Berlin');
    assert.equal(e.line, 2);
    assert.equal(e.column, 12);
    assert.equal(e.position, 24);
    assert.match(e.message, /^at 2:12: expected a value \(string or number\) after '=' \(strings are written in quotes: "Berlin"\), found 'Berlin'$/);
  });

  it('for each kind of mistake', () => {
    const cases: Array<[string, string, number]> = [
      ['', 'expected a condition', 0],
      ['   ', 'expected a condition', 3],
      ['plan', "expected an operator after 'plan'", 4],
      ['plan == "pro"', "expected a value (string or number) after '='", 6],
      ['plan = "pro" city = "x"', "expected 'and', 'or' or end of input after a condition, found 'city'", 13],
      ['plan = "pro" and', 'expected a condition', 16],
      ['(plan = "pro"', "expected 'and', 'or' or ')' to close the '(' at 1:1, found end of input", 13],
      ['plan = "pro")', "unmatched ')'", 12],
      ['plan = "pro', 'unterminated string: expected a closing " before the end of input', 7],
      ['plan = "pro\n"', 'unterminated string: expected a closing " before the end of line', 7],
      [String.raw`plan = "a\qb"`, String.raw`unknown escape '\q'`, 9],
      ['plan = \u201cpro\u201d', 'typographic quote', 7],
      ['plan ! "pro"', "unexpected '!'", 5],
      ['plan = "pro" & x = 1', "unexpected character '&'", 13],
      ['city in "Berlin"', "expected '(' after 'in'", 8],
      ['city in ()', "expected a value (string or number) after '('", 9],
      ['city in ("a" "b")', "expected ',' or ')' in the list", 13],
      ['city in ("a", 2)', 'a list holds only strings or only numbers: expected a string like the values before it, found 2', 14],
      ['city contains 5', "expected a string after 'contains', found 5", 14],
      ['city starts "B"', "expected 'with' after 'starts'", 12],
      ['city is full', "expected 'empty' or 'not empty' after 'is'", 8],
      ['city not = "x"', "expected 'in', 'contains', 'starts with' or 'ends with' after 'not'", 9],
      ['score > 5 ignoring case', "'ignoring case' applies to strings, and 5 is a number", 10],
      ['plan = "a" ignoring', "expected 'case' after 'ignoring'", 19],
      ['clicked within days', "expected a whole number of days after 'within'", 15],
      ['clicked within 1.5 days', "expected a whole number of days after 'within'", 15],
      ['clicked within 0 days', 'the number of days must be between 1 and 36500, found 0', 15],
      ['clicked within 90', "expected 'days' after 'within 90'", 17],
      ['opened in last 3 campaigns', "expected 'the' after 'opened in'", 10],
      ['opened in the last 3', "expected 'campaigns' after 'in the last 3'", 20],
      ['opened in the last 5000 campaigns', 'the number of campaigns must be between 1 and 1000', 19],
      ['never opened', "expected 'sent' after 'never'", 6],
      ['bounced = "yes"', `'bounced' is an engagement condition, not an attribute (an attribute called bounced is written attr("bounced"))`, 8],
      ['attr(plan) = 1', "expected the attribute's name as a string after 'attr('", 5],
      ['attr("plan" = 1', "expected ')' after the attribute name", 12],
      ['and = 1', 'expected a condition', 0],
      ['not', 'expected a condition', 3],
    ];
    for (const [text, message, position] of cases) {
      const e = bad(text);
      assert.ok(e.message.includes(message), `${JSON.stringify(text)}: ${e.message} (wanted: ${message})`);
      assert.equal(e.position, position, `${JSON.stringify(text)}: ${e.message}`);
      assert.match(e.message, new RegExp(`^at ${e.line}:${e.column}: `));
    }
  });

  it('reports the first error in the text, a bad character after it included', () => {
    const e = bad('plan = and x = "unterminated');
    assert.equal(e.position, 7);
    assert.equal(e.found, "'and'");
  });
});

describe('segment language: limits', () => {
  it('refuses an expression longer than the limit', () => {
    const text = `note = "${'x'.repeat(SEGMENT_LIMITS.maxLength)}"`;
    const e = bad(text);
    assert.equal(e.position, SEGMENT_LIMITS.maxLength);
    assert.match(e.message, new RegExp(`is ${text.length} characters long; at most ${SEGMENT_LIMITS.maxLength}`));
  });

  it('refuses nesting deeper than the limit, and accepts it up to the limit', () => {
    const depth = SEGMENT_LIMITS.maxDepth;
    ok(`${'('.repeat(depth)}a = 1${')'.repeat(depth)}`);
    ok(`${'not '.repeat(depth)}a = 1`);
    const e = bad(`${'('.repeat(depth + 1)}a = 1${')'.repeat(depth + 1)}`);
    assert.equal(e.position, depth);
    assert.match(e.message, /nested more than 20 deep/);
    assert.match(bad(`${'not '.repeat(depth + 1)}a = 1`).message, /nested more than 20 deep/);
    // A pathological depth is refused, not a stack overflow.
    assert.match(bad(`${'('.repeat(5000)}a = 1${')'.repeat(5000)}`).message, /nested more than/);
  });

  it('refuses a longer list than the limit', () => {
    const values = (n: number) => Array.from({ length: n }, (_, i) => i).join(',');
    ok(`id in (${values(SEGMENT_LIMITS.maxListValues)})`);
    const e = bad(`id in (${values(SEGMENT_LIMITS.maxListValues + 1)})`);
    assert.match(e.message, /a list holds at most 1000 values/);
  });

  it('refuses more conditions than the limit', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `a = ${i}`).join(' or ');
    ok(many(SEGMENT_LIMITS.maxConditions));
    assert.match(bad(many(SEGMENT_LIMITS.maxConditions + 1)).message, /more than 200 conditions/);
  });

  it('parses a long flat expression without deep recursion', () => {
    const text = Array.from({ length: 200 }, (_, i) => `a${i} = "${'v'.repeat(50)}"`).join(' and ');
    assert.equal(attributesOf(ok(text)).length, 200);
  });
});
