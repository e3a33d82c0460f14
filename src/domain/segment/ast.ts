/**
 * The typed tree of a segment expression (docs/segments.md). Produced by parseSegment, read by
 * the SQL compiler (src/sql/segmentPredicate.ts); plain data, so it can be stored or sent as JSON.
 */

/** Where something is in the expression text: 0-based offsets, `end` exclusive. */
export interface Span {
  start: number;
  end: number;
}

/** What a condition looks at: a built-in column of the recipient, or one of its attributes. */
export type Field = { kind: 'email'; span: Span } | { kind: 'name'; span: Span } | { kind: 'attribute'; name: string; span: Span };

/**
 * A value written in the expression. A number keeps its decimal text (it is compared as an
 * exact numeric in SQL, never as a floating-point double).
 */
export type Literal = { type: 'string'; value: string } | { type: 'number'; value: string };

export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

export type TextOp = 'contains' | 'startsWith' | 'endsWith';

/** An engagement window: any time, the last N days before `now`, or the K most recently started campaigns. */
export type Window = { kind: 'ever' } | { kind: 'days'; days: number } | { kind: 'campaigns'; count: number };

export type SegmentAst =
  | { kind: 'and'; items: SegmentAst[] }
  | { kind: 'or'; items: SegmentAst[] }
  | { kind: 'not'; item: SegmentAst }
  /** `field op value`; `!=` and the orderings need the field to have a value, as `=` does. */
  | { kind: 'compare'; field: Field; op: CompareOp; value: Literal; ignoreCase: boolean }
  /** `field in (…)` / `field not in (…)`: the values are all strings or all numbers. */
  | { kind: 'in'; field: Field; valueType: 'string' | 'number'; values: string[]; negated: boolean; ignoreCase: boolean }
  /** `contains`, `starts with`, `ends with` (and their `not` forms). */
  | { kind: 'text'; field: Field; op: TextOp; value: string; negated: boolean; ignoreCase: boolean }
  /** `field exists` (present: true) / `field is empty` (present: false): empty is missing, null or "". */
  | { kind: 'present'; field: Field; present: boolean }
  | { kind: 'activity'; event: 'opened' | 'clicked'; window: Window }
  | { kind: 'bounced' }
  | { kind: 'complained' }
  | { kind: 'neverSent' };

/** What a parse error says: where (0-based offset and 1-based line:column), what was expected there, and what was found. */
export interface SegmentError {
  /** The whole sentence, starting with `at LINE:COLUMN:`. */
  message: string;
  /** 0-based offset in the expression text (UTF-16 code units, as JavaScript strings count). */
  position: number;
  line: number;
  column: number;
  /** What would have been accepted there: quoted words and symbols ('and', ')'), or descriptions (a string). */
  expected: string[];
  /** What was there instead, e.g. `'city'`, `"pro"`, `5`, `end of input`. */
  found: string;
}

export type ParseResult = { ok: true; segment: SegmentAst } | { ok: false; error: SegmentError };

/** The attribute names an expression refers to, each once, in order of first appearance (`email` and `name` are columns, not attributes). */
export function attributesOf(ast: SegmentAst): string[] {
  const names = new Set<string>();
  const visit = (node: SegmentAst): void => {
    switch (node.kind) {
      case 'and':
      case 'or':
        for (const item of node.items) visit(item);
        return;
      case 'not':
        visit(node.item);
        return;
      case 'compare':
      case 'in':
      case 'text':
      case 'present':
        if (node.field.kind === 'attribute') names.add(node.field.name);
        return;
      default:
        return;
    }
  };
  visit(ast);
  return [...names];
}
