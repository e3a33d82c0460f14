import fs from 'node:fs';
import path from 'node:path';
import nunjucks from 'nunjucks';
import { installTemplateSandbox } from './sandbox.js';
import type { CampaignRenderSpec } from './types.js';

// Every thread that compiles templates renders them with this module's environments: the
// guard goes in before the first template exists (render threads, and the main thread's
// create, start and dry-run checks).
installTemplateSandbox();

/** A campaign's parts, compiled once per worker thread. */
export interface CompiledCampaign {
  subject: nunjucks.Template;
  html: nunjucks.Template;
  text: nunjucks.Template;
  globals: Record<string, unknown>;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
}

interface Environments {
  /** HTML: autoescape on. */
  html: nunjucks.Environment;
  /** Plain text and the subject header: nothing to escape. */
  plain: nunjucks.Environment;
}

const environments = new Map<string, Environments>();

/**
 * Nunjucks' FileSystemLoader keeps `{% include %}` inside its folder by comparing string
 * prefixes, so `../templates-private/x.njk` from `/srv/templates` passes (`/srv/templates-private`
 * starts with `/srv/templates`). A subject comes from API token holders: includes must stay
 * inside the templates folder.
 */
class TemplatesLoader extends nunjucks.FileSystemLoader {
  private readonly root: string;
  constructor(templatesDir: string) {
    super(templatesDir, { noCache: false, watch: false });
    this.root = path.resolve(templatesDir);
  }
  override getSource(name: string): nunjucks.LoaderSource {
    const full = path.resolve(this.root, name);
    if (!full.startsWith(this.root + path.sep)) return null as unknown as nunjucks.LoaderSource;
    return super.getSource(name);
  }
}

function environmentsFor(templatesDir: string): Environments {
  let envs = environments.get(templatesDir);
  if (!envs) {
    const make = (autoescape: boolean): nunjucks.Environment =>
      new nunjucks.Environment(new TemplatesLoader(templatesDir), {
        autoescape,
        throwOnUndefined: true,
      });
    envs = { html: make(true), plain: make(false) };
    environments.set(templatesDir, envs);
  }
  return envs;
}

/** Shared values for every template (company name, postal address…), from templates/globals.json. */
function loadGlobals(templatesDir: string): Record<string, unknown> {
  const file = path.join(templatesDir, 'globals.json');
  if (!fs.existsSync(file)) return {};
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new TemplateError(`${displayPath(templatesDir, file)}: ${(err as Error).message}`);
  }
}

export function compileCampaign(spec: CampaignRenderSpec): CompiledCampaign {
  const envs = environmentsFor(spec.templatesDir);
  const folder = path.join(spec.templatesDir, spec.template);
  if (!/^[\w.-]+$/.test(spec.template) || !fs.existsSync(folder)) {
    throw new TemplateError(`template '${spec.template}' not found: expected a folder ${displayPath(spec.templatesDir, folder)} with html.njk and text.njk`);
  }
  const load = (env: nunjucks.Environment, name: string): nunjucks.Template => {
    const file = path.join(folder, name);
    if (!fs.existsSync(file)) throw new TemplateError(`${displayPath(spec.templatesDir, file)} is missing`);
    return compileSource(env, fs.readFileSync(file, 'utf8'), file, spec.templatesDir);
  };
  return {
    subject: compileSource(envs.plain, spec.subject, 'subject', spec.templatesDir),
    html: load(envs.html, 'html.njk'),
    text: load(envs.plain, 'text.njk'),
    globals: loadGlobals(spec.templatesDir),
  };
}

/**
 * Compiles a campaign's parts and every shared layout and partial, so a syntax error anywhere
 * is reported at create/start time with its file, line and column instead of failing every
 * recipient later.
 */
export function checkCampaignTemplates(spec: CampaignRenderSpec): void {
  compileCampaign(spec);
  const envs = environmentsFor(spec.templatesDir);
  for (const file of sharedTemplates(spec.templatesDir)) {
    compileSource(file.endsWith('.html.njk') ? envs.html : envs.plain, fs.readFileSync(file, 'utf8'), file, spec.templatesDir);
  }
}

function sharedTemplates(templatesDir: string): string[] {
  const files: string[] = [];
  for (const entry of fs.readdirSync(templatesDir, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith('_')) continue;
    const dir = path.join(templatesDir, entry.name);
    for (const f of fs.readdirSync(dir)) if (f.endsWith('.njk')) files.push(path.join(dir, f));
  }
  return files.sort();
}

function compileSource(env: nunjucks.Environment, source: string, file: string, templatesDir: string): nunjucks.Template {
  try {
    return new nunjucks.Template(source, env, file, true);
  } catch (err) {
    throw new TemplateError(describeError(err, file === 'subject' ? 'subject' : displayPath(templatesDir, file)));
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

function displayPath(templatesDir: string, file: string): string {
  return path.join(path.basename(templatesDir), path.relative(templatesDir, file));
}
