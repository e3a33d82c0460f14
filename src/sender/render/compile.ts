import path from 'node:path';
import nunjucks from 'nunjucks';
import { UserError } from '../../domain/errors.js';
import { installTemplateSandbox } from './sandbox.js';
import type { ContentSources } from '../../domain/content.js';

// Every thread that compiles templates renders them with this module's environments: the
// guard goes in before the first template exists (render threads, and the main thread's
// create, start and dry-run checks).
installTemplateSandbox();

/** A campaign's parts, compiled once per worker thread. */
export interface CompiledCampaign {
  subject: nunjucks.Template;
  html: nunjucks.Template;
  /** Null: the text part is derived from each message's rendered HTML (textFromHtml). */
  text: nunjucks.Template | null;
  globals: Record<string, unknown>;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
}

/**
 * A draft's content made from files that do not compile (a missing folder, an MJML or
 * Nunjucks error) is the user's to fix: the error, naming file and line, and the field it is
 * about. Anything else passes through as it is.
 */
export function templateUserError(err: unknown): unknown {
  if ((err as Error).name !== 'TemplateError') return err;
  const message = (err as Error).message;
  return new UserError(`template error: ${message}`, [{ field: /^subject\b/.test(message) ? 'subject' : 'template', message }]);
}

interface Environments {
  /** HTML: autoescape on. */
  html: nunjucks.Environment;
  /** Plain text and the subject header: nothing to escape. */
  plain: nunjucks.Environment;
}

/**
 * Resolves `{% include %}`, `{% extends %}` and `{% import %}` against a campaign's content
 * (ContentSources.files) and nothing else: no file is read while rendering, so an include
 * cannot leave the templates folder (a name that is not in the map, `../x` or an absolute
 * path, is simply not found) and editing the files changes nothing for a started campaign.
 * Error messages name the file as `templates/<name>`, as they did when the files were read.
 */
class ContentLoader extends nunjucks.Loader {
  private readonly prefix: string;
  constructor(
    private readonly files: Readonly<Record<string, string>>,
    root: string,
  ) {
    super();
    this.prefix = `${root}/`;
  }
  getSource(name: string): nunjucks.LoaderSource {
    const src = Object.hasOwn(this.files, name) ? this.files[name] : undefined;
    if (src === undefined) return null as unknown as nunjucks.LoaderSource;
    return { src, path: this.prefix + name, noCache: false };
  }
  // `./x` and `../x` relative to the including template, inside the map's names.
  override resolve(from: string, to: string): string {
    const parent = from.startsWith(this.prefix) ? from.slice(this.prefix.length) : from;
    return path.posix.normalize(path.posix.join(path.posix.dirname(parent), to));
  }
}

function environmentsFor(content: ContentSources): Environments {
  // One loader each: a loader caches the templates it compiled, and the two environments
  // compile the same partial differently (autoescape).
  const make = (autoescape: boolean): nunjucks.Environment =>
    new nunjucks.Environment(new ContentLoader(content.files, content.root) as unknown as nunjucks.ILoader, {
      autoescape,
      throwOnUndefined: true,
    });
  return { html: make(true), plain: make(false) };
}

/** Shared values for every template (company name, postal address…), from templates/globals.json. */
function globalsOf(content: ContentSources): Record<string, unknown> {
  const text = content.files['globals.json'];
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new TemplateError(`${content.root}/globals.json: ${(err as Error).message}`);
  }
}

/** Compiles a campaign's parts from its content; each render thread does it once per campaign. */
export function compileContent(content: ContentSources): CompiledCampaign {
  return compileWith(content, environmentsFor(content));
}

function compileWith(content: ContentSources, envs: Environments): CompiledCampaign {
  const named = (file: string): string => `${content.root}/${file}`;
  const htmlSource = content.html.compiled ?? content.files[content.html.file];
  if (htmlSource === undefined) throw new TemplateError(`${named(content.html.file)} is missing`);
  const textSource = content.text === null ? undefined : content.files[content.text];
  if (content.text !== null && textSource === undefined) throw new TemplateError(`${named(content.text)} is missing`);
  return {
    subject: compileSource(envs.plain, content.subject, 'subject'),
    // MJML and inlined HTML are compiled sources: errors in them name the source file.
    html: compileSource(envs.html, htmlSource, named(content.html.file)),
    text: content.text === null ? null : compileSource(envs.plain, textSource!, named(content.text)),
    globals: globalsOf(content),
  };
}

/**
 * Compiles a campaign's parts and every shared layout and partial of its content, so a syntax
 * error anywhere is reported at create/start time with its file, line and column instead of
 * failing every recipient later.
 */
export function checkContent(content: ContentSources): void {
  const envs = environmentsFor(content);
  // The sources first, so an error in an MJML or inlined template is reported at its line in
  // the file that was written, not in what it was compiled to.
  for (const [file, source] of Object.entries(content.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!file.endsWith('.njk')) continue;
    compileSource(file.endsWith('.html.njk') || file.endsWith('.mjml.njk') ? envs.html : envs.plain, source, `${content.root}/${file}`);
  }
  compileWith(content, envs);
}

function compileSource(env: nunjucks.Environment, source: string, file: string): nunjucks.Template {
  try {
    return new nunjucks.Template(source, env, file, true);
  } catch (err) {
    throw new TemplateError(describeError(err, file));
  }
}

/** `(path) [Line 3, Column 9]\n  message` from nunjucks becomes `file:3:9: message`. */
export function describeError(err: unknown, fallbackFile: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const located = /^\(([^)]*)\) \[Line (\d+), Column (\d+)\]\s*([\s\S]*)$/.exec(message);
  if (!located) {
    // Errors at the very end of the input come without a position.
    const unplaced = /^\(([^)]*)\)\s*([\s\S]*)$/.exec(message);
    const file = unplaced?.[1] && unplaced[1] !== 'unknown path' ? shorten(unplaced[1]) : fallbackFile;
    return `${file === 'subject' ? 'subject' : file}: ${(unplaced?.[2] ?? message).trim()}`;
  }
  const [, where, line, column, rest] = located;
  const file = where && where !== 'unknown path' ? where : fallbackFile;
  // A template that could not be loaded comes wrapped once more, with its includer's full path.
  const inner = rest!
    .trim()
    .replace(/^Template render error: \([^)]*\)\s*/, '')
    .replace(/^(?:Sandbox)?Error: /, '');
  // Errors raised inside an included template carry that template's own location.
  const nested = /^\(([^)]*)\) \[Line (\d+), Column (\d+)\]\s*([\s\S]*)$/.exec(inner);
  if (nested) return describeError(new Error(inner), fallbackFile);
  return `${shorten(file)}:${line}:${column}: ${inner}`;
}

function shorten(file: string): string {
  const templates = `${path.sep}templates${path.sep}`;
  const at = file.lastIndexOf(templates);
  return at >= 0 ? file.slice(at + 1) : file;
}
