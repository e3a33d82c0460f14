import { createRequire } from 'node:module';
import nunjucks from 'nunjucks';

/**
 * Nunjucks does not sandbox templates: `{{ range.constructor("return process")() }}` reaches
 * the Function constructor and runs any JavaScript on the Herald host. Subjects come from API
 * token holders and template files from whoever can write the templates folder, and neither is
 * meant to run code (README, "Threat model"). Where a template can choose a name or a value
 * while it renders — member lookups (`x["constr" ~ "uctor"]`, a `{% set %}` alias), calls,
 * the attribute arguments of filters — the compiled runtime checks it on every use, so macros,
 * `caller` and included partials are covered too. Bare names, filter and test names are
 * always literals in the generated code, so they are checked where the code is generated.
 * A walk over the parsed template refuses the literal cases with the template's name, line
 * and column, so a campaign with one is refused when it is created.
 */
/** Members that lead from any value to its prototype chain or to the Function constructor. */
const ALWAYS_BLOCKED = new Set(['constructor', '__proto__', 'prototype', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__']);

/**
 * Members of functions only: `call`/`apply`/`bind` choose `this` and the arguments of a native
 * function, `caller`/`arguments` reach into the frames of sloppy-mode (compiled template) code.
 * A recipient attribute called `call` is plain data and stays readable.
 */
const FUNCTION_BLOCKED = new Set(['call', 'apply', 'bind', 'caller', 'arguments']);

/** One set for the hot path's single test: a name that is neither is never looked at again. */
const MEMBER_WATCHED = new Set([...ALWAYS_BLOCKED, ...FUNCTION_BLOCKED]);

/**
 * Bare names that a template's context or frame (plain objects) inherit from Object.prototype.
 * `{{ valueOf() }}` is called with the render Context as `this` and returns it, and from the
 * Context its Environment, loaders and search paths are one member away. Refused as bare names
 * (and as filter and test names); as members (`recipient.hasOwnProperty("x")`) they are bound
 * to their object and harmless.
 */
const OBJECT_PROTO_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));

/** Bare names a template may not use. */
const LOOKUP_WATCHED = new Set([...ALWAYS_BLOCKED, ...OBJECT_PROTO_NAMES]);

/** Filters that read a member named by an argument (`sort(attribute="…")`, `join(",", "…")`). */
const ATTRIBUTE_FILTERS = new Set(['sort', 'groupby', 'join', 'sum', 'selectattr', 'rejectattr']);

const AsyncFunction = (async () => undefined).constructor;
const GeneratorFunction = function* () {}.constructor;
const AsyncGeneratorFunction = async function* () {}.constructor;

const builtins = (holder: object, names: Iterable<string>): unknown[] =>
  [...names].map((name) => (holder as Record<string, unknown>)[name]).filter((v) => typeof v === 'function');

/**
 * Functions a template must never call or even hold, whatever route brought them within reach
 * (a member lookup, a filter's result, a value a partial set): they compile code, pick `this`,
 * schedule code, or reflect on and rewrite objects.
 */
const FORBIDDEN_FUNCTIONS = new Set<unknown>([
  Function,
  AsyncFunction,
  GeneratorFunction,
  AsyncGeneratorFunction,
  Function.prototype.call,
  Function.prototype.apply,
  Function.prototype.bind,
  // biome-ignore lint/security/noGlobalEval: listed so that templates can never call it
  eval,
  setTimeout,
  setInterval,
  setImmediate,
  queueMicrotask,
  ...builtins(Object, Object.getOwnPropertyNames(Object)),
  ...builtins(Reflect, Object.getOwnPropertyNames(Reflect)),
]);

/**
 * Object.prototype's own methods are refused when called bare (`{{ valueOf() }}` gets the
 * Context as `this`), not when read as a member: `recipient.hasOwnProperty("x")` is wrapped
 * and called on `recipient`, which is harmless.
 */
const CALL_FORBIDDEN = new Set<unknown>([...FORBIDDEN_FUNCTIONS, ...builtins(Object.prototype, OBJECT_PROTO_NAMES)]);

export class SandboxError extends Error {
  override name = 'SandboxError';
}

function refuse(what: string): never {
  throw new SandboxError(`${what} is not allowed in a template (templates cannot reach JavaScript)`);
}

/** A watched member name: refused always, or when read from a function. */
function checkWatchedMember(obj: unknown, name: string): void {
  if (ALWAYS_BLOCKED.has(name)) refuse(`'${name}'`);
  if (FUNCTION_BLOCKED.has(name) && typeof obj === 'function') refuse(`'${name}' of a function`);
}

/**
 * Compiled templates' `a.b` and `a[b]`, with the stock semantics (methods get `a` as `this`).
 * On the hot path: an ordinary name costs one Set lookup. A key that is neither a string nor
 * a number is turned into a string once, here, and that string is what is read: an object
 * whose `toString` answers differently on its second call (a template can build one from
 * `cycler`) cannot pass the check as one name and be read as another.
 */
export function safeMemberLookup(obj: unknown, name: string): unknown {
  if (obj === undefined || obj === null) return undefined;
  if (typeof name !== 'string') {
    if (typeof name !== 'number') {
      name = String(name);
      checkWatchedMember(obj, name);
    }
  } else if (MEMBER_WATCHED.has(name)) checkWatchedMember(obj, name);
  const member = (obj as Record<string, unknown>)[name];
  if (typeof member !== 'function') return member;
  // A forbidden function read as data (through a getter, or a partial's exported value).
  if (FORBIDDEN_FUNCTIONS.has(member)) refuse(`'${name}' (a built-in JavaScript function)`);
  // Like the stock version, the method is read again when called and gets `obj` as `this`.
  return (...args: unknown[]) => (obj as Record<string, (...a: unknown[]) => unknown>)[name]!.apply(obj, args);
}

interface Environment {
  filters: Record<string, unknown>;
  tests: Record<string, unknown>;
  init(...args: unknown[]): void;
}
interface Runtime {
  memberLookup(obj: unknown, name: string): unknown;
  callWrap(obj: unknown, name: string, context: unknown, args: unknown[]): unknown;
  handleError(error: unknown, lineno: number, colno: number): unknown;
}
interface NodeLike {
  typename: string;
  lineno: number;
  colno: number;
  value?: unknown;
  val?: NodeLike;
  name?: NodeLike;
  args?: NodeLike & { children: NodeLike[] };
  children?: NodeLike[];
  key?: NodeLike;
  findAll(type: unknown, results?: NodeLike[]): NodeLike[];
}
interface CompilerProto {
  compileRoot(this: CompilerProto, node: NodeLike, frame: unknown): void;
  compileLookupVal(this: CompilerProto, node: NodeLike, frame: unknown): void;
  compileFilter(this: CompilerProto, node: NodeLike, frame: unknown): void;
  compileIs(this: CompilerProto, node: NodeLike, frame: unknown): void;
  compileSymbol(this: CompilerProto, node: NodeLike, frame: unknown): void;
  fail(msg: string, lineno?: number, colno?: number): never;
  _emit(code: string): void;
  _emitLine(code: string): void;
  compileInclude(this: CompilerProto, node: NodeLike, frame: unknown): void;
  compileImport(this: CompilerProto, node: NodeLike, frame: unknown): void;
  compileFromImport(this: CompilerProto, node: NodeLike, frame: unknown): void;
}

const SafeString = (nunjucks as unknown as { runtime: { SafeString: new (value: string) => object } }).runtime.SafeString;
let installed = false;

/**
 * Installs the guard into the Nunjucks module of this thread (main thread and every render
 * thread import compile.ts, which calls this). Idempotent. `useFasterRuntime` keeps it: its
 * memberLookup is `safeMemberLookup`.
 */
export function installTemplateSandbox(): void {
  if (installed) return;
  installed = true;
  const n = nunjucks as unknown as {
    runtime: Runtime;
    Environment: { prototype: Environment };
    compiler: { Compiler: { prototype: CompilerProto } };
    nodes: Record<string, unknown>;
  };
  const runtime = n.runtime;
  runtime.memberLookup = safeMemberLookup;

  // Compiled code reports a runtime error at the position held in its `lineno`/`colno`
  // variables, which stock Nunjucks sets only before a call, and 0-based: an error in a member
  // lookup on line 2 of a template was reported at the last call, or at no line at all. The
  // compiler below also sets them before lookups and filters; here they become 1-based like
  // the compiler's own errors. Errors that already carry a position (a nested template's, or
  // `ensureDefined`'s) keep it.
  const lib = (nunjucks as unknown as { lib: { TemplateError: new (err: unknown, lineno: number, colno: number) => Error } }).lib;
  runtime.handleError = function handleError(error, lineno, colno) {
    if ((error as { lineno?: number }).lineno) return error;
    return new lib.TemplateError(error, lineno + 1, colno + 1);
  };

  const callWrap = runtime.callWrap;
  runtime.callWrap = function guardedCallWrap(obj, name, context, args) {
    if (CALL_FORBIDDEN.has(obj)) refuse(`calling '${name}' (a built-in JavaScript function)`);
    return callWrap(obj, name, context, args);
  };

  // Filter and test names are looked up in plain objects: `x | valueOf` would find
  // Object.prototype.valueOf and call it with the Context as `this`. Every environment's tables
  // lose their prototype when it is made, so such a name is simply not found.
  const environment = n.Environment.prototype;
  const init = environment.init;
  environment.init = function sandboxedInit(this: Environment, ...args: unknown[]) {
    init.apply(this, args);
    Object.setPrototypeOf(this.filters, null);
    Object.setPrototypeOf(this.tests, null);
  };
  // The filters that read a member named by an argument check it on each call; Environment
  // copies its filters from this module when it is made, and the others are left untouched.
  const filters = createRequire(import.meta.url)('nunjucks/src/filters.js') as Record<string, (...args: unknown[]) => unknown>;
  for (const name of ATTRIBUTE_FILTERS) {
    const filter = filters[name]!;
    filters[name] = function attributeFilter(this: unknown, ...args: unknown[]): unknown {
      for (let i = 1; i < args.length; i++) checkAttributeArgument(name, args[i]);
      return filter.apply(this, args);
    };
  }

  // Compile time: the same rules on the names written in the template, reported with the
  // template's name, line and column before anything renders.
  const compilerProto = n.compiler.Compiler.prototype;
  const compileRoot = compilerProto.compileRoot;
  const nodes = n.nodes;
  compilerProto.compileRoot = function checkedCompileRoot(node, frame) {
    for (const symbol of node.findAll(nodes.Symbol)) {
      const name = String(symbol.value);
      // Object.prototype's names too: as bare names they resolve to its methods.
      if (LOOKUP_WATCHED.has(name)) this.fail(`'${name}' is not allowed in a template (templates cannot reach JavaScript)`, symbol.lineno, symbol.colno);
    }
    for (const lookup of node.findAll(nodes.LookupVal)) {
      const key = lookup.val;
      if (key && key.typename === 'Literal' && typeof key.value === 'string' && ALWAYS_BLOCKED.has(key.value)) {
        this.fail(`'${key.value}' is not allowed in a template (templates cannot reach JavaScript)`, key.lineno, key.colno);
      }
    }
    for (const pair of node.findAll(nodes.Pair)) {
      // `{"__proto__": x}` in a dict literal would set the new object's prototype.
      const key = pair.key;
      if (key && key.typename === 'Literal' && typeof key.value === 'string' && ALWAYS_BLOCKED.has(key.value)) {
        this.fail(`'${key.value}' is not allowed in a template (templates cannot reach JavaScript)`, key.lineno, key.colno);
      }
    }
    for (const filter of [...node.findAll(nodes.Filter), ...node.findAll(nodes.Is)]) {
      const name = filter.typename === 'Is' ? (filter as unknown as { right: NodeLike }).right : filter.name;
      const value = name?.typename === 'Symbol' ? String(name.value) : name?.name?.typename === 'Symbol' ? String(name.name.value) : undefined;
      if (value !== undefined && OBJECT_PROTO_NAMES.has(value)) {
        this.fail(`'${value}' is not allowed in a template (templates cannot reach JavaScript)`, name!.lineno, name!.colno);
      }
      if (filter.typename === 'Filter' && value !== undefined && ATTRIBUTE_FILTERS.has(value)) {
        for (const literal of filter.findAll(nodes.Literal)) {
          if (typeof literal.value === 'string' && attributeBlocked(literal.value)) {
            this.fail(`${value}: attribute '${literal.value}' is not allowed in a template (templates cannot reach JavaScript)`, literal.lineno, literal.colno);
          }
        }
      }
    }
    return compileRoot.call(this, node, frame);
  };

  // Positions for runtime errors (see handleError above): two assignments to locals of the
  // compiled function before each lookup that the sandbox may refuse.
  const located = (original: (this: CompilerProto, node: NodeLike, frame: never) => void) =>
    function locatedCompile(this: CompilerProto, node: NodeLike, frame: never): void {
      this._emit(`(lineno = ${node.lineno}, colno = ${node.colno}, `);
      original.call(this, node, frame);
      this._emit(')');
    };
  compilerProto.compileLookupVal = located(compilerProto.compileLookupVal);
  compilerProto.compileFilter = located(compilerProto.compileFilter);
  compilerProto.compileIs = located(compilerProto.compileIs);
  // `{% include %}`, `{% import %}`, `{% from %}`: a template that cannot be loaded (outside the
  // templates folder, say) is reported at the tag's line.
  for (const name of ['compileInclude', 'compileImport', 'compileFromImport'] as const) {
    const original = compilerProto[name];
    compilerProto[name] = function locatedStatement(this: CompilerProto, node: NodeLike, frame: unknown): void {
      this._emitLine(`lineno = ${node.lineno}; colno = ${node.colno};`);
      original.call(this, node, frame);
    };
  }

  // A bare name is always a literal in the generated code (`contextOrFrameLookup(context,
  // frame, "name")`): refusing to generate the lookup of a watched name guards every
  // template's name lookups without a check at render time.
  const compileSymbol = compilerProto.compileSymbol;
  compilerProto.compileSymbol = function guardedCompileSymbol(node, frame) {
    const name = String(node.value);
    if (LOOKUP_WATCHED.has(name)) this.fail(`'${name}' is not allowed in a template (templates cannot reach JavaScript)`, node.lineno, node.colno);
    compileSymbol.call(this, node, frame);
  };
}

function attributeBlocked(attribute: string): boolean {
  for (const part of attribute.split('.')) if (ALWAYS_BLOCKED.has(part)) return true;
  return false;
}

/**
 * An argument (or keyword arguments holding one) of an attribute-reading filter. Objects are
 * refused: the filter would turn one into a member name through its `toString`, after this
 * check. Functions a template may not call are refused too (`groupby` calls a function it is
 * given).
 */
function checkAttributeArgument(filter: string, arg: unknown): void {
  if (typeof arg === 'string') {
    if (attributeBlocked(arg)) refuse(`${filter}: attribute '${arg}'`);
  } else if (typeof arg === 'function') {
    if (CALL_FORBIDDEN.has(arg)) refuse(`${filter}: a built-in JavaScript function`);
  } else if (arg !== null && typeof arg === 'object') {
    if ((arg as { __keywords?: boolean }).__keywords) {
      for (const key in arg) if (key !== '__keywords') checkAttributeArgument(filter, (arg as Record<string, unknown>)[key]);
    } else if (arg instanceof SafeString) {
      checkAttributeArgument(filter, String(arg));
    } else {
      refuse(`${filter}: an object as an attribute name`);
    }
  }
}
