import fs from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { previewAudience, type AudiencePreview } from '../campaigns/audience.js';
import { audienceExport } from '../campaigns/exportAudience.js';
import { createSegment, deleteSegment, listSavedSegments, showSegment } from '../campaigns/segments.js';
import { UserError } from '../domain/errors.js';
import { collect } from './args.js';
import { withContext } from './context.js';

export function registerSegmentCommands(program: Command): void {
  const segments = program.command('segments').description('saved filters over recipient attributes and engagement (docs/segments.md)');

  segments
    .command('create <name>')
    .description('save a segment under a name; campaigns use it with --segment NAME')
    .requiredOption('--where <expression>', 'the filter, e.g. \'plan = "pro" and clicked within 90 days\'')
    .action((name: string, o: { where: string }) =>
      withContext(async ({ db }) => {
        const segment = await createSegment(db, name, o.where);
        console.log(`saved segment '${segment.name}'`);
      }),
    );

  segments
    .command('ls')
    .description('saved segments with their expressions')
    .action(() =>
      withContext(async ({ db }) => {
        const rows = await listSavedSegments(db);
        if (rows.length === 0) console.log("no saved segments yet (herald segments create NAME --where '…')");
        const width = Math.max(0, ...rows.map((r) => r.name.length));
        for (const r of rows) console.log(`${r.name.padEnd(width)}  ${r.expression}`);
      }),
    );

  segments
    .command('show <name>')
    .description('a segment: its expression, when it was saved, and the campaigns that use it')
    .option('--json', 'machine-readable output')
    .action((name: string, o: { json?: boolean }) =>
      withContext(async ({ db }) => {
        const s = await showSegment(db, name);
        if (o.json) {
          console.log(JSON.stringify(s, null, 2));
          return;
        }
        console.log(`segment ${s.name}\n  where     ${s.expression}\n  saved     ${s.createdAt}`);
        if (s.campaigns.length === 0) console.log('  used by   no campaign');
        for (const c of s.campaigns) {
          console.log(`  used by   campaign ${c.id} "${c.name}" (${c.status}${c.fixed ? ', audience fixed at its start' : ''})`);
        }
      }),
    );

  segments
    .command('rm <name>')
    .description('remove a saved segment (refused while a campaign that has not started uses it)')
    .action((name: string) =>
      withContext(async ({ db }) => {
        await deleteSegment(db, name);
        console.log(`removed segment '${name}'`);
      }),
    );

  segments
    .command('count [name]')
    .description('how many recipients a segment (saved, or --where) selects after exclusions and suppressions, with 10 of them')
    .option('--where <expression>', 'segment text instead of a saved segment')
    .option('--list <list>', 'only members of this list (repeatable; default: every recipient)', collect)
    .option('--exclude-list <list>', 'leave out the members of this list (repeatable)', collect)
    .option('--json', 'machine-readable output')
    .action((name: string | undefined, o: { where?: string; list?: string[]; excludeList?: string[]; json?: boolean }) =>
      withContext(async ({ db }) => {
        if (name !== undefined && o.where !== undefined) throw new UserError('segments count: give a saved segment NAME or --where, not both');
        const preview = await previewAudience(db, { lists: o.list, excludeLists: o.excludeList, segment: name, where: o.where });
        console.log(o.json ? JSON.stringify(preview, null, 2) : formatPreview(preview));
      }),
    );

  segments
    .command('export [name]')
    .description('the recipients a segment (saved, or --where) selects as CSV: email, name, one column per attribute (what recipients import reads)')
    .option('--where <expression>', 'segment text instead of a saved segment')
    .option('--list <list>', 'only members of this list (repeatable; default: every recipient)', collect)
    .option('--exclude-list <list>', 'leave out the members of this list (repeatable)', collect)
    .option('--include-suppressed', 'also the suppressed recipients (by default the file holds those segments count counts)')
    .option('--out <file>', 'write to this file (default: standard output)')
    .option('--raw', 'values exactly as stored, for a program to read back (default: a cell a spreadsheet would run as a formula starts with an apostrophe)')
    .action(
      (name: string | undefined, o: { where?: string; list?: string[]; excludeList?: string[]; includeSuppressed?: boolean; out?: string; raw?: boolean }) =>
        withContext(async ({ db }) => {
          if (name !== undefined && o.where !== undefined) throw new UserError('segments export: give a saved segment NAME or --where, not both');
          if (name === undefined && o.where === undefined) throw new UserError("segments export: give a saved segment NAME or --where 'EXPR'");
          const exported = await audienceExport(
            db,
            { lists: o.list, excludeLists: o.excludeList, segment: name, where: o.where },
            { spreadsheetSafe: !o.raw, includeSuppressed: o.includeSuppressed ?? false },
          );
          if (!o.out) {
            await exported.write(process.stdout);
            return;
          }
          const out = fs.createWriteStream(o.out);
          await exported.write(out);
          out.end();
          await once(out, 'finish');
        }),
    );
}

function formatPreview(p: AudiencePreview): string {
  const lines = [
    `${p.count} recipient${p.count === 1 ? '' : 's'} (after exclusions and suppressions${p.suppressed > 0 ? `; ${p.suppressed} more match but are suppressed` : ''})`,
  ];
  if (p.samples.length > 0) {
    lines.push(`first ${p.samples.length}:`);
    for (const r of p.samples) lines.push(`  ${r.email}${r.name ? `  ${r.name}` : ''}`);
  }
  for (const w of p.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
