import { referencedTemplates, type TemplateSource } from '../../domain/templateChecks.js';
import type { CampaignRenderSpec } from './types.js';

/**
 * The sources a campaign renders from, taken from its content (the stored snapshot once
 * started, else the files as they are now): its subject, the HTML part as it renders (MJML or
 * inlined HTML already compiled), the text part, and every layout, partial and macro file they
 * pull in by name. The one place the template checks get sources from. Names are as compile.ts
 * shows them (`templates/spring-sale/html.njk`); a name not in the content is left out
 * (compiling it reports that). Content that could not be made gives nothing to check.
 */
export function campaignTemplateSources(spec: CampaignRenderSpec): TemplateSource[] {
  const content = spec.content;
  if (!content) return [];
  const shown = (rel: string): string => `${content.root}/${rel}`;
  const sources: TemplateSource[] = [];
  const seen = new Set<string>();
  const queue: string[] = [];
  const add = (source: TemplateSource): void => {
    try {
      queue.push(...referencedTemplates(source));
    } catch {
      // A source that does not parse is reported by the compile check.
    }
    sources.push(source);
  };
  add({ name: 'subject', source: content.subject });
  seen.add(content.html.file);
  add({ name: shown(content.html.file), source: content.html.compiled ?? content.files[content.html.file] ?? '' });
  if (content.text !== null && content.files[content.text] !== undefined) {
    seen.add(content.text);
    add({ name: shown(content.text), source: content.files[content.text]! });
  }
  while (queue.length > 0) {
    const next = queue.shift()!;
    if (seen.has(next)) continue;
    seen.add(next);
    const source = content.files[next];
    if (source !== undefined) add({ name: shown(next), source });
  }
  return sources;
}
