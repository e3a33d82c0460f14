import nunjucks from 'nunjucks';
import { safeMemberLookup } from './sandbox.js';

interface Frame {
  variables: Record<string, unknown>;
  resolve(name: string, forWrite: boolean): Frame | undefined;
  set(name: string, value: unknown, resolveUp?: boolean): void;
}

interface NunjucksLib {
  escape(value: string): string;
  extend<T extends object>(target: T | null | undefined, source: object): T;
  _assign: NunjucksLib['extend'];
}

interface NunjucksRuntime {
  Frame: { prototype: Frame };
  memberLookup(obj: unknown, name: string): unknown;
}

/**
 * Replaces four small functions of the Nunjucks runtime with faster ones that return the same
 * values. Compiled templates call them through the module objects (`runtime.memberLookup`,
 * `lib.escape`), so the replacements take effect for every template. Applied once per render
 * thread; measured on the spring-sale template (BENCHMARKS.md, "Why these hand-written parts").
 */
export function useFasterRuntime(): void {
  const { lib, runtime } = nunjucks as unknown as { lib: NunjucksLib; runtime: NunjucksRuntime };
  fasterEscape(lib);
  fasterExtend(lib);
  fasterMemberLookup(runtime);
  fasterFrameSet(runtime.Frame.prototype);
}

/**
 * Autoescape runs `replace` with a global regex and a callback on every value a template
 * prints, ~90 short strings a message, and most have nothing to escape: a test first is
 * about a third of the cost.
 */
function fasterEscape(lib: NunjucksLib): void {
  const stockEscape = lib.escape;
  const special = /[&"'<>\\]/;
  lib.escape = (value) => (special.test(value) ? stockEscape(value) : value);
}

/**
 * Every template render (and every include) copies its context with `extend`, which lists
 * the keys into an array and copies them in a callback.
 */
function fasterExtend(lib: NunjucksLib): void {
  const hasOwn = Object.prototype.hasOwnProperty;
  lib.extend = lib._assign = function extend<T extends object>(target: T | null | undefined, source: object): T {
    const out = (target || {}) as Record<string, unknown>;
    for (const key in source) if (hasOwn.call(source, key)) out[key] = (source as Record<string, unknown>)[key];
    return out as T;
  };
}

/**
 * `a.b` in a template: the stock version reads the member twice (once to test for a method).
 * The replacement is the sandbox's lookup (sandbox.ts), which also refuses the members that
 * lead to JavaScript: a faster runtime must never be a less guarded one.
 */
function fasterMemberLookup(runtime: NunjucksRuntime): void {
  runtime.memberLookup = safeMemberLookup;
}

/**
 * Frame#set splits every variable name on '.' each time it is called — for every loop
 * variable (`loop.index`, `loop.first`…) of every iteration and every macro argument.
 * It shows up in profiles of the render threads. This version caches the split
 * and otherwise does the same.
 */
function fasterFrameSet(frame: Frame): void {
  const splits = new Map<string, string[]>();
  frame.set = function set(this: Frame, name: string, value: unknown, resolveUp?: boolean): void {
    let parts = splits.get(name);
    if (!parts) splits.set(name, (parts = name.split('.')));
    if (resolveUp) {
      const owner = this.resolve(parts[0]!, true);
      if (owner) {
        owner.set(name, value);
        return;
      }
    }
    let target = this.variables;
    for (let i = 0; i < parts.length - 1; i++) {
      const id = parts[i]!;
      if (!target[id]) target[id] = {};
      target = target[id] as Record<string, unknown>;
    }
    target[parts[parts.length - 1]!] = value;
  };
}
