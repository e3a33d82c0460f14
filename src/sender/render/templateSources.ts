import fs from 'node:fs';
import path from 'node:path';
import { referencedTemplates, type TemplateSource } from '../../domain/templateChecks.js';
import type { CampaignRenderSpec } from './types.js';

/**
 * The sources a campaign renders from: its subject, its folder's html.njk and text.njk, and
 * every layout, partial and macro file they pull in by name, read from the templates folder
 * as compile.ts reads them. The one place the template checks get sources from (a stored
 * content snapshot can stand in for the files here). Names are as compile.ts shows them
 * (`templates/spring-sale/html.njk`); a file that cannot be read is left out (compiling it
 * reports that).
 */
export function campaignTemplateSources(spec: CampaignRenderSpec): TemplateSource[] {
  const root = path.resolve(spec.templatesDir);
  const shown = (rel: string): string => path.join(path.basename(root), rel);
  const sources: TemplateSource[] = [];
  const seen = new Set<string>();
  const queue = ['html.njk', 'text.njk'].map((f) => path.join(spec.template, f));
  const read = (rel: string): void => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const full = path.resolve(root, rel);
    // Includes stay inside the templates folder, as TemplatesLoader keeps them.
    if (!full.startsWith(root + path.sep) || !fs.existsSync(full)) return;
    const source = { name: shown(rel), source: fs.readFileSync(full, 'utf8') };
    const refs = referencedTemplates(source);
    sources.push(source);
    queue.push(...refs);
  };
  try {
    const subject = { name: 'subject', source: spec.subject };
    queue.push(...referencedTemplates(subject));
    sources.push(subject);
  } catch {
    // A subject that does not parse is reported by the compile check.
  }
  while (queue.length > 0) {
    const next = queue.shift()!;
    try {
      read(next);
    } catch {
      // A file that does not parse is reported by the compile check.
    }
  }
  return sources;
}
