import nunjucks from 'nunjucks';

interface Frame {
  variables: Record<string, unknown>;
  resolve(name: string, forWrite: boolean): Frame | undefined;
  set(name: string, value: unknown, resolveUp?: boolean): void;
}

/**
 * Nunjucks' Frame#set splits every variable name on '.' each time it is called — for every
 * loop variable (`loop.index`, `loop.first`…) of every iteration and every macro argument.
 * Profiles of the render threads put it at ~9% of their time. This replacement caches the
 * split and is otherwise the same code. Applied once per render thread.
 */
export function useFasterFrames(): void {
  const frame = (nunjucks as unknown as { runtime: { Frame: { prototype: Frame } } }).runtime.Frame.prototype;
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
