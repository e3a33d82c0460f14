import fs from 'node:fs';
import path from 'node:path';
import { templatesDir } from '../config/paths.js';
import { isTemplateName } from '../domain/validation.js';

/** The files that make a folder a campaign template: its HTML part, plain or MJML. */
const HTML_PARTS = ['html.njk', 'html.mjml.njk'];

export interface TemplateFolder {
  name: string;
  /** The template files it holds (html.njk, html.mjml.njk, text.njk …), sorted. */
  parts: string[];
}

/**
 * The template folders a campaign can name, for pickers (the dashboard's composer): every
 * folder of the templates directory that holds an HTML part. Folders starting with `_` hold
 * shared layouts and partials; names a campaign could not use are left out. Whether one
 * compiles is checked when a campaign names it.
 */
export function listTemplateFolders(dir = templatesDir()): TemplateFolder[] {
  if (!fs.existsSync(dir)) return [];
  const folders: TemplateFolder[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('_') || !isTemplateName(entry.name)) continue;
    const parts = fs
      .readdirSync(path.join(dir, entry.name), { withFileTypes: true })
      .filter((f) => f.isFile() && f.name.endsWith('.njk'))
      .map((f) => f.name)
      .sort();
    if (parts.some((p) => HTML_PARTS.includes(p))) folders.push({ name: entry.name, parts });
  }
  return folders.sort((a, b) => a.name.localeCompare(b.name));
}
