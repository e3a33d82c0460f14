/** The segment language (docs/segments.md): parseSegment turns text into a SegmentAst or a positioned SegmentError. */
export { attributesOf } from './ast.js';
export type { CompareOp, Field, Literal, ParseResult, SegmentAst, SegmentError, Span, TextOp, Window } from './ast.js';
export { parseSegment, SEGMENT_LIMITS } from './parser.js';
