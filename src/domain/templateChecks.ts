import { Parser } from 'htmlparser2';
import nunjucks from 'nunjucks';

/**
 * Checks of a campaign's content before it is sent (docs/operations.md, "Preview and checks"): pure
 * functions over one rendered message and over the template sources, plus the counts of
 * recipients lacking an attribute, which the caller reads from the database.
 */

export type CheckSeverity = 'warning' | 'info';

export type CheckCode = 'html_size' | 'no_unsubscribe_link' | 'img_without_alt' | 'insecure_links' | 'missing_variable';

export interface TemplateCheck {
  code: CheckCode;
  severity: CheckSeverity;
  message: string;
}

/**
 * Gmail shows only the start of a long message's HTML and hides the rest behind "[Message
 * clipped] View entire message"; the unsubscribe footer usually goes with it. The limit is
 * Gmail's documented clipping size (docs/operations.md, "Preview and checks").
 */
export const GMAIL_CLIP_BYTES = 102 * 1024;

/** How many examples a check names (image sources, links). */
const EXAMPLES = 3;

export interface RenderedForChecks {
  html: string;
  text: string;
  /**
   * The recipient's unsubscribe URL (the https one of its List-Unsubscribe header), or null
   * when the message has none: then `{{ unsubscribe_url }}` renders as `#`.
   */
  unsubscribeUrl: string | null;
}

/** The http(s) URL in a List-Unsubscribe header value (`<https://…>, <mailto:…>`). */
export function unsubscribeUrlOf(listUnsubscribe: string | undefined): string | null {
  if (!listUnsubscribe) return null;
  return /<(https?:\/\/[^>]+)>/i.exec(listUnsubscribe)?.[1] ?? null;
}

/** What the checks need from the HTML: every link, every image and whether it has alt. */
function scanHtml(html: string): { links: string[]; images: Array<{ src: string; alt: boolean }> } {
  const links: string[] = [];
  const images: Array<{ src: string; alt: boolean }> = [];
  // Attribute values come entity-decoded: `&amp;` in an href is the `&` a client follows.
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if ((name === 'a' || name === 'area') && attrs.href !== undefined) links.push(attrs.href.trim());
        if (name === 'img') images.push({ src: (attrs.src ?? '').trim(), alt: attrs.alt !== undefined });
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  return { links, images };
}

function examples(items: readonly string[]): string {
  const shown = items.slice(0, EXAMPLES).map((s) => (s === '' ? '(no src)' : s));
  return shown.join(', ') + (items.length > EXAMPLES ? `, and ${items.length - EXAMPLES} more` : '');
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

/** The checks of one rendered message: size of its HTML, unsubscribe link, images' alt, plain-http links. */
export function checkRenderedMessage(message: RenderedForChecks): TemplateCheck[] {
  const checks: TemplateCheck[] = [];
  const htmlBytes = Buffer.byteLength(message.html, 'utf8');
  if (htmlBytes > GMAIL_CLIP_BYTES) {
    checks.push({
      code: 'html_size',
      severity: 'warning',
      message: `the HTML part is ${kb(htmlBytes)} (${htmlBytes} bytes): Gmail clips messages over ${GMAIL_CLIP_BYTES / 1024} KB and hides the rest, the unsubscribe link often with it`,
    });
  }
  const { links, images } = scanHtml(message.html);

  const url = message.unsubscribeUrl;
  if (url === null) {
    checks.push({
      code: 'no_unsubscribe_link',
      severity: 'warning',
      message: 'the message has no unsubscribe URL (no List-Unsubscribe header), so {{ unsubscribe_url }} renders as "#"',
    });
  } else {
    // The link itself, or one made from it (`{{ unsubscribe_url }}?from=footer`).
    const inHtml = links.some((href) => href.startsWith(url));
    const inText = message.text.includes(url);
    const missing = [inHtml ? null : 'HTML part', inText ? null : 'text part'].filter((p): p is string => p !== null);
    if (missing.length > 0) {
      checks.push({
        code: 'no_unsubscribe_link',
        severity: 'warning',
        message: `no unsubscribe link in the ${missing.join(' or the ')}: link to {{ unsubscribe_url }} in the body (besides the List-Unsubscribe header, many clients show only the body)`,
      });
    }
  }

  const withoutAlt = images.filter((i) => !i.alt).map((i) => i.src);
  if (withoutAlt.length > 0) {
    checks.push({
      code: 'img_without_alt',
      severity: 'warning',
      message: `${withoutAlt.length} ${withoutAlt.length === 1 ? 'image has' : 'images have'} no alt text (shown when images are blocked, read by screen readers; alt="" marks a decorative one): ${examples(withoutAlt)}`,
    });
  }

  // The unsubscribe links are Herald's (HERALD_PUBLIC_URL), not the template's: said apart.
  const ours = (link: string): boolean => url !== null && link.startsWith(url);
  const plain = new Set<string>();
  for (const href of links) if (/^http:\/\//i.test(href) && !ours(href)) plain.add(href);
  for (const img of images) if (/^http:\/\//i.test(img.src)) plain.add(img.src);
  for (const m of message.text.matchAll(/\bhttp:\/\/[^\s<>"')\]]+/gi)) if (!ours(m[0])) plain.add(m[0]);
  if (plain.size > 0) {
    checks.push({
      code: 'insecure_links',
      severity: 'warning',
      message: `${plain.size} plain http:// ${plain.size === 1 ? 'link or image' : 'links or images'} (clients warn, images may be blocked; use https://): ${examples([...plain])}`,
    });
  }
  if (url !== null && /^http:\/\//i.test(url)) {
    checks.push({
      code: 'insecure_links',
      severity: 'warning',
      message: `the unsubscribe links are plain http:// (${new URL(url).origin}, from HERALD_PUBLIC_URL): large mailbox providers expect https for one-click unsubscribe`,
    });
  }
  return checks;
}

/** One template source: its name (as shown in messages) and text. */
export interface TemplateSource {
  name: string;
  source: string;
}

/** A recipient attribute a template reads, where it is first read, and whether every read is guarded. */
export interface TemplateVariable {
  /** The attribute's name (`coupon` for `recipient.coupon` or `attributes.coupon`). */
  attribute: string;
  /** How the template writes it, e.g. `recipient.coupon`. */
  expression: string;
  /** `file:line:column` of its first use that is not guarded, else of its first use. */
  at: string;
  /**
   * Every use sits under an `{% if %}` test or behind a `default` filter, so a recipient
   * without it still renders.
   */
  guarded: boolean;
}

/** What `recipient` carries besides the attributes (src/sender/render/renderThread.ts). */
const RECIPIENT_OWN = new Set(['email', 'name']);

interface AstNode {
  typename: string;
  lineno?: number;
  colno?: number;
  fields?: string[];
  children?: AstNode[];
  value?: unknown;
  [field: string]: unknown;
}

function parseTemplate(source: TemplateSource): AstNode {
  return (nunjucks as unknown as { parser: { parse(src: string): AstNode } }).parser.parse(source.source);
}

function childrenOf(node: AstNode): Array<[string, AstNode]> {
  if (node.typename === 'NodeList' || Array.isArray(node.children)) return (node.children ?? []).map((c, i) => [String(i), c]);
  const out: Array<[string, AstNode]> = [];
  for (const field of node.fields ?? []) {
    const child = node[field] as AstNode | null | undefined;
    if (child && typeof child === 'object' && typeof child.typename === 'string') out.push([field, child]);
  }
  return out;
}

function isNode(value: unknown): value is AstNode {
  return value !== null && typeof value === 'object' && typeof (value as AstNode).typename === 'string';
}

/**
 * The templates a source pulls in by a literal name: `{% extends %}`, `{% include %}`,
 * `{% import %}` and `{% from … import %}`. A name computed at render time is not followed.
 */
export function referencedTemplates(source: TemplateSource): string[] {
  const names: string[] = [];
  const visit = (node: AstNode): void => {
    if (['Extends', 'Include', 'Import', 'FromImport'].includes(node.typename)) {
      const template = node.template;
      if (isNode(template) && template.typename === 'Literal' && typeof template.value === 'string') names.push(template.value);
    }
    for (const [, child] of childrenOf(node)) visit(child);
  };
  visit(parseTemplate(source));
  return [...new Set(names)];
}

/**
 * The recipient attributes the templates read, from the Nunjucks parse tree: `recipient.X`
 * and `attributes.X` (also written `recipient["X"]`), except `recipient.email` and
 * `recipient.name`, which every recipient has.
 */
export function templateVariables(sources: readonly TemplateSource[]): TemplateVariable[] {
  const found = new Map<string, TemplateVariable>();
  for (const source of sources) {
    /** The attribute a node reads directly (`recipient.X`, `attributes.X`), if any. */
    const attributeOf = (node: AstNode): string | null => {
      if (node.typename !== 'LookupVal') return null;
      const target = node.target;
      const val = node.val;
      if (!isNode(target) || target.typename !== 'Symbol' || (target.value !== 'recipient' && target.value !== 'attributes')) return null;
      if (!isNode(val) || val.typename !== 'Literal' || typeof val.value !== 'string') return null;
      return target.value === 'recipient' && RECIPIENT_OWN.has(val.value) ? null : val.value;
    };
    const attributesIn = (node: AstNode, into: Set<string>): Set<string> => {
      const attribute = attributeOf(node);
      if (attribute !== null) into.add(attribute);
      for (const [, child] of childrenOf(node)) attributesIn(child, into);
      return into;
    };
    /**
     * `guarded`: every attribute read here is safe (an if's test, a default's input);
     * `tested`: attributes an enclosing `{% if %}` tested, safe in its body.
     */
    const visit = (node: AstNode, guarded: boolean, tested: ReadonlySet<string>): void => {
      const attribute = attributeOf(node);
      if (attribute !== null) {
        const safe = guarded || tested.has(attribute);
        const seen = found.get(attribute);
        const target = node.target as AstNode;
        const use = {
          attribute,
          expression: `${String(target.value)}.${attribute}`,
          at: `${source.name}:${(target.lineno ?? 0) + 1}:${(target.colno ?? 0) + 1}`,
          guarded: safe,
        };
        // Where it is shown: the first use, or the first unguarded one when there is one.
        if (!seen) found.set(attribute, use);
        else if (seen.guarded && !safe) Object.assign(seen, use);
      }
      if ((node.typename === 'If' || node.typename === 'InlineIf') && isNode(node.cond)) {
        // The test of an if: a missing attribute is just false there, and its body runs only
        // for recipients that have it.
        visit(node.cond, true, tested);
        if (isNode(node.body)) visit(node.body, guarded, attributesIn(node.cond, new Set(tested)));
        if (isNode(node.else_)) visit(node.else_, guarded, tested);
        return;
      }
      for (const [field, child] of childrenOf(node)) {
        // `x | default(…)`: the first argument of the filter is the value it stands in for.
        if (node.typename === 'Filter' && field === 'args' && isNode(node.name) && ['default', 'd'].includes(String(node.name.value))) {
          for (const [i, arg] of childrenOf(child)) visit(arg, guarded || i === '0', tested);
          continue;
        }
        visit(child, guarded, tested);
      }
    };
    visit(parseTemplate(source), false, new Set());
  }
  return [...found.values()];
}

/**
 * The missing-variable checks: for each attribute the templates read, how many of the
 * audience's recipients lack it (`lacking`, counted by the caller). Unguarded, a recipient
 * lacking it fails to render (rendering is strict); guarded, it is only worth knowing.
 */
export function missingVariableChecks(variables: readonly TemplateVariable[], lacking: ReadonlyMap<string, number>, audience: number): TemplateCheck[] {
  const checks: TemplateCheck[] = [];
  for (const v of variables) {
    const n = lacking.get(v.attribute) ?? 0;
    if (n === 0) continue;
    const who = `${n} of ${audience} ${audience === 1 ? 'recipient lacks' : 'recipients lack'} the attribute '${v.attribute}'`;
    checks.push(
      v.guarded
        ? {
            code: 'missing_variable',
            severity: 'info',
            message: `${who} (${v.expression} at ${v.at}); every use has an {% if %} or a default, so they get the fallback`,
          }
        : {
            code: 'missing_variable',
            severity: 'warning',
            message: `${who} (${v.expression} at ${v.at}); printing it fails their render, write {{ ${v.expression} | default("…") }} or test it with {% if %}`,
          },
    );
  }
  return checks;
}

/** A check as one line of CLI output. */
export function formatCheck(check: TemplateCheck): string {
  return `${check.severity}: ${check.message}`;
}
