import { createHash } from 'node:crypto';

/**
 * What a campaign renders from (docs/architecture.md, "A campaign's content"): the exact
 * template sources, fixed when the campaign first starts and stored with it (migration 0014),
 * so that editing the files of a running campaign changes nothing for it. A draft gets the
 * same structure from the files each time it is checked, previewed or test-sent.
 *
 * Plain data: it crosses to the render threads inside every CampaignRenderSpec.
 */
export interface ContentSources {
  /** Bumped when the structure changes, so a stored snapshot is read as what it is. */
  format: 1;
  /** The templates folder's own name ("templates"): the prefix of file names in errors. */
  root: string;
  /** The template folder under the templates folder (the campaign's --template). */
  template: string;
  /** The campaign's subject, a Nunjucks string. */
  subject: string;
  /**
   * Every file a render can read, by its path under the templates folder with '/' separators:
   * the template folder's files, every file of every shared `_*` folder (dynamic includes
   * exist, so all of them), and `globals.json`. Includes resolve only to names in this map.
   */
  files: Record<string, string>;
  /** The HTML part. */
  html: {
    /** Its source file in `files` (`T/html.njk` or `T/html.mjml.njk`). */
    file: string;
    /** How the source became the Nunjucks template that renders each message. */
    via: 'plain' | 'mjml' | 'inlined';
    /** For mjml and inlined: the result, made once when the snapshot was made; else null. */
    compiled: string | null;
  };
  /** The text part's file (`T/text.njk`), or null: derived from each message's rendered HTML. */
  text: string | null;
}

export interface ContentSnapshot {
  sources: ContentSources;
  /** sha256 (hex) of canonicalJson(sources): see contentHash. */
  hash: string;
}

/**
 * JSON with object keys sorted at every level and no whitespace, so equal content always
 * serialises to equal bytes whatever order the files were read in.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

/** The content hash: sha256 over canonicalJson of everything the campaign renders from. */
export function contentHash(sources: ContentSources): string {
  return createHash('sha256').update(canonicalJson(sources)).digest('hex');
}

export function makeSnapshot(sources: ContentSources): ContentSnapshot {
  return { sources, hash: contentHash(sources) };
}

/** Parses what was stored (jsonb) back into sources, refusing a shape this version does not know. */
export function storedSources(value: unknown, campaignId: number): ContentSources {
  const s = value as Partial<ContentSources> | null;
  if (s?.format !== 1 || typeof s.subject !== 'string' || typeof s.files !== 'object' || !s.html) {
    throw new Error(`campaign ${campaignId}: its stored content has a format this version of Herald does not read`);
  }
  return s as ContentSources;
}

/** A Nunjucks tag taken out of a source before MJML or CSS inlining, and put back after. */
interface ProtectedTag {
  token: string;
  tag: string;
  /** 1-based line of the tag in the original source. */
  line: number;
  kind: 'output' | 'statement' | 'comment';
}

export interface ProtectedSource {
  /** The source with every tag replaced by its token; newlines inside tags are dropped. */
  text: string;
  tags: ProtectedTag[];
  /** For each line of `text` (index = line - 1), its line in the original source. */
  lines: number[];
}

/**
 * `{{ … }}`, `{% … %}` and `{# … #}`, whitespace control included. A `}}` or `%}` inside a
 * string literal of a tag ends the match early: write such a string with `~` concatenation.
 */
const NUNJUCKS_TAG = /\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}|\{#[\s\S]*?#\}/g;

/**
 * Replaces every Nunjucks tag with a token of lowercase letters and digits: such a token is
 * kept as it is by an HTML or MJML parser in text, in attribute values (href="{{ url }}") and in
 * CSS, where the tag itself would be escaped, reordered or dropped. `nonce` must not occur in
 * the source (the caller picks one that does not).
 */
export function protectNunjucks(source: string, nonce: string): ProtectedSource {
  const tags: ProtectedTag[] = [];
  const lines: number[] = [1];
  let out = '';
  let at = 0;
  let line = 1;
  const copy = (text: string): void => {
    for (const ch of text) {
      if (ch === '\n') lines.push(line + 1);
      if (ch === '\n') line++;
    }
    out += text;
  };
  for (const m of source.matchAll(NUNJUCKS_TAG)) {
    copy(source.slice(at, m.index));
    const tag = m[0];
    const token = `njk${nonce}t${tags.length}x`;
    const kind = tag.startsWith('{{') ? 'output' : tag.startsWith('{%') ? 'statement' : 'comment';
    tags.push({ token, tag, line, kind });
    out += token;
    // The tag's own newlines leave the protected text; the original line count goes on.
    line += tag.split('\n').length - 1;
    at = m.index + tag.length;
  }
  copy(source.slice(at));
  return { text: out, tags, lines };
}

export class LostTagError extends Error {
  override name = 'LostTagError';
  constructor(
    readonly tag: string,
    readonly line: number,
  ) {
    super(`the Nunjucks tag ${tag} on line ${line} was dropped`);
  }
}

/**
 * Puts the tags back. A statement tag (`{% for %}`, `{% if %}`…) must come out exactly once:
 * one that was dropped (MJML drops text between its elements) or repeated would change the
 * template's structure, so it is refused with its line. An output tag may be repeated (MJML
 * copies some attributes into Outlook-only markup); a comment may be dropped.
 */
export function restoreNunjucks(text: string, p: ProtectedSource): string {
  if (p.tags.length === 0) return text;
  const byToken = new Map(p.tags.map((t) => [t.token, t]));
  const seen = new Map<string, number>();
  const first = p.tags[0]!.token;
  const nonce = first.slice(3, first.lastIndexOf('t'));
  const restored = text.replace(new RegExp(`njk${nonce}t\\d+x`, 'g'), (token) => {
    const t = byToken.get(token);
    if (!t) return token;
    seen.set(token, (seen.get(token) ?? 0) + 1);
    return t.tag;
  });
  for (const t of p.tags) {
    const n = seen.get(t.token) ?? 0;
    if (n === 0 && t.kind !== 'comment') throw new LostTagError(t.tag, t.line);
    if (n > 1 && t.kind === 'statement') throw new LostTagError(t.tag, t.line);
  }
  return restored;
}

/** A nonce of lowercase letters that occurs nowhere in `source`. */
export function pickNonce(source: string, random: () => number): string {
  for (;;) {
    let nonce = '';
    for (let i = 0; i < 8; i++) nonce += String.fromCharCode(97 + Math.floor(random() * 26));
    if (!source.includes(nonce)) return nonce;
  }
}
