import fs from 'node:fs';
import path from 'node:path';
import {
  LostTagError,
  makeSnapshot,
  pickNonce,
  protectNunjucks,
  restoreNunjucks,
  type ContentSnapshot,
  type ContentSources,
  type ProtectedSource,
} from '../../domain/content.js';
import { TemplateError } from './compile.js';

/**
 * MJML and juice load on first use: together they take most of a second and tens of MB to
 * load, which every worker, serve and CLI process would pay at start for templates that may
 * never need them. (Their cost is measured in BENCHMARKS.md, "MJML vs plain HTML".)
 */
type Mjml = typeof import('mjml');
type Juice = typeof import('juice');
let mjmlModule: Promise<Mjml> | null = null;
let juiceModule: Promise<Juice> | null = null;
function loadMjml(): Promise<Mjml> {
  mjmlModule ??= import('mjml').then((m) => (m as unknown as { default: Mjml }).default);
  return mjmlModule;
}
function loadJuice(): Promise<Juice> {
  juiceModule ??= import('juice').then((m) => (m as unknown as { default: Juice }).default);
  return juiceModule;
}

/**
 * Makes a campaign's content from the template files (docs/architecture.md, "A campaign's
 * content"): reads what the render may use and does, once, what is done per campaign and
 * never per message (MJML, CSS inlining). On the main thread: MJML is asynchronous and far
 * too slow to run per message. The result is stored when the campaign first starts; a draft
 * gets a new one every time it is checked, previewed or test-sent.
 */

/** Files a template folder may hold besides its parts; anything else in it is not read. */
const TEMPLATE_FILES = /\.(njk|json)$/;
/** A snapshot is kept in one database row and sent to every render thread: keep it small. */
const MAX_CONTENT_BYTES = 4 * 1024 * 1024;

/** What `template.json` in a template folder may say. */
interface TemplateOptions {
  /** Inline the CSS of html.njk's own <style> blocks into its elements (juice). */
  inlineCss?: boolean;
}

export async function buildContent(templatesDir: string, template: string, subject: string): Promise<ContentSnapshot> {
  const root = path.basename(path.resolve(templatesDir));
  const folder = path.join(templatesDir, template);
  if (!/^[\w.-]+$/.test(template) || template.startsWith('.') || template.startsWith('_') || !isDirectory(folder)) {
    throw new TemplateError(
      `template '${template}' not found: expected a folder ${root}/${template} with html.njk (or html.mjml.njk) and, optionally, text.njk`,
    );
  }
  const files: Record<string, string> = {};
  let bytes = 0;
  const add = (rel: string, full: string): void => {
    const text = fs.readFileSync(full, 'utf8');
    bytes += Buffer.byteLength(text);
    if (bytes > MAX_CONTENT_BYTES)
      throw new TemplateError(`${root}: the template's files and the shared folders add up to more than ${MAX_CONTENT_BYTES} bytes`);
    files[rel] = text;
  };
  for (const entry of walk(folder, template)) if (TEMPLATE_FILES.test(entry.rel)) add(entry.rel, entry.full);
  for (const dirent of fs.readdirSync(templatesDir, { withFileTypes: true })) {
    if (!dirent.isDirectory() || !dirent.name.startsWith('_')) continue;
    for (const entry of walk(path.join(templatesDir, dirent.name), dirent.name)) if (entry.rel.endsWith('.njk')) add(entry.rel, entry.full);
  }
  const globalsFile = path.join(templatesDir, 'globals.json');
  if (fs.existsSync(globalsFile)) {
    add('globals.json', globalsFile);
    parseJson(files['globals.json']!, `${root}/globals.json`);
  }

  const options = templateOptions(files, root, template);
  const mjmlFile = `${template}/html.mjml.njk`;
  const htmlFile = `${template}/html.njk`;
  let html: ContentSources['html'];
  if (files[mjmlFile] !== undefined && files[htmlFile] !== undefined) {
    throw new TemplateError(`${root}/${template}: holds both html.njk and html.mjml.njk; keep one`);
  } else if (files[mjmlFile] !== undefined) {
    html = { file: mjmlFile, via: 'mjml', compiled: await compileMjml(files[mjmlFile]!, `${root}/${mjmlFile}`) };
  } else if (files[htmlFile] !== undefined) {
    html = options.inlineCss
      ? { file: htmlFile, via: 'inlined', compiled: await inlineCss(files[htmlFile]!, `${root}/${htmlFile}`) }
      : { file: htmlFile, via: 'plain', compiled: null };
  } else {
    throw new TemplateError(`${root}/${htmlFile} is missing (or write ${root}/${mjmlFile})`);
  }
  const textFile = `${template}/text.njk`;
  return makeSnapshot({
    format: 1,
    root,
    template,
    subject,
    files,
    html,
    text: files[textFile] !== undefined ? textFile : null,
  });
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Files under `dir`, sorted, with their paths relative to the templates folder ('/' separated). */
function* walk(dir: string, rel: string): Generator<{ rel: string; full: string }> {
  const entries = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(full, `${rel}/${e.name}`);
    else if (e.isFile()) yield { rel: `${rel}/${e.name}`, full };
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TemplateError(`${where}: ${(err as Error).message}`);
  }
}

function templateOptions(files: Record<string, string>, root: string, template: string): TemplateOptions {
  const rel = `${template}/template.json`;
  if (files[rel] === undefined) return {};
  const where = `${root}/${rel}`;
  const value = parseJson(files[rel], where);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TemplateError(`${where}: expected an object like {"inlineCss": true}`);
  for (const [key, v] of Object.entries(value)) {
    if (key !== 'inlineCss') throw new TemplateError(`${where}: unknown setting '${key}' (known: inlineCss)`);
    if (typeof v !== 'boolean') throw new TemplateError(`${where}: inlineCss must be true or false`);
  }
  return value as TemplateOptions;
}

function protect(source: string): ProtectedSource {
  return protectNunjucks(source, pickNonce(source, Math.random));
}

function restore(text: string, p: ProtectedSource, where: string, what: string): string {
  try {
    return restoreNunjucks(text, p);
  } catch (err) {
    if (!(err instanceof LostTagError)) throw err;
    const hint = what === 'MJML' ? ': MJML keeps text only inside its elements; put a tag between elements in <mj-raw>…</mj-raw>' : '';
    throw new TemplateError(`${where}:${err.line}: ${what} dropped or repeated the Nunjucks tag ${err.tag}${hint}`);
  }
}

/**
 * MJML to HTML, with the Nunjucks tags kept out of MJML's way and put back (protectNunjucks).
 * Validation: everything MJML reports is an error naming the file and line, except an
 * attribute whose value is a Nunjucks expression (`color="{{ brand }}"`): MJML cannot know the
 * value before each message is rendered, and refusing it would forbid templated colours and
 * links. That is MJML's "strict" level minus that case, run as "soft" to see each error.
 */
export async function compileMjml(source: string, where: string): Promise<string> {
  // What stands before <mjml> and after </mjml> (`{% set %}`s, a comment) is kept as it is
  // around the compiled document: MJML would drop it.
  const start = source.search(/<mjml[\s>]/);
  const end = source.lastIndexOf('</mjml>');
  if (start < 0 || end < start) throw new TemplateError(`${where}: MJML: expected one <mjml>…</mjml> document`);
  const before = source.slice(0, start);
  const after = source.slice(end + '</mjml>'.length);
  const linesBefore = before.split('\n').length - 1;
  const p = protect(source.slice(start, end + '</mjml>'.length));
  const mjml2html = await loadMjml();
  let result: Awaited<ReturnType<typeof mjml2html>>;
  try {
    result = await mjml2html(p.text, { validationLevel: 'soft', keepComments: false, ignoreIncludes: true, minify: false, beautify: false });
  } catch (err) {
    throw new TemplateError(`${where}: MJML: ${(err as Error).message}`);
  }
  const errors = result.errors.filter((e) => !p.tags.some((t) => e.message.includes(t.token)));
  if (errors.length > 0) {
    const e = errors[0]!;
    const line = (p.lines[e.line - 1] ?? e.line) + linesBefore;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    throw new TemplateError(`${where}:${line}: MJML: ${e.message.trim()}${more}`);
  }
  for (const t of p.tags) t.line += linesBefore;
  return before + restore(result.html, p, where, 'MJML') + after;
}

/** juice over html.njk's own <style> blocks; media queries stay in a <style> block. */
export async function inlineCss(source: string, where: string): Promise<string> {
  const juice = await loadJuice();
  const p = protect(source);
  let html: string;
  try {
    html = juice(p.text, {
      removeStyleTags: true,
      preserveMediaQueries: true,
      preserveImportant: true,
      applyWidthAttributes: true,
      applyHeightAttributes: true,
    });
  } catch (err) {
    throw new TemplateError(`${where}: CSS inlining: ${(err as Error).message}`);
  }
  return restore(html, p, where, 'CSS inlining');
}
