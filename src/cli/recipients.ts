import fs from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { formatHistory, recipientHistoryView } from '../campaigns/history.js';
import { DEFAULT_ERASE_WAIT_MS, eraseRecipient, readmitRecipient, type ErasureReport } from '../campaigns/erasure.js';
import { listExport } from '../campaigns/exportList.js';
import { changeRecipient, upsertRecipients, type UpsertSummary } from '../campaigns/recipients.js';
import { UserError } from '../domain/errors.js';
import { parseAttributeArg, parseRecipientItems, type AttributeChange } from '../domain/recipientInput.js';
import { ImportError, importRecipients } from '../import/importRecipients.js';
import { JsonFileError, readJsonRecipients } from '../import/jsonRecipients.js';
import { collect, intArg } from './args.js';
import { countRecipients } from '../sql/countRecipients.js';
import { createList } from '../sql/createList.js';
import { findListId } from '../sql/findListId.js';
import { withContext } from './context.js';

export function registerRecipientCommands(program: Command): void {
  const recipients = program.command('recipients').description('import, add, change, export, count and erase recipients');
  recipients
    .command('import <file>')
    .description('import a CSV (header with an email column; name optional; other columns become attributes)')
    .requiredOption('--list <name>', 'list to add the recipients to')
    .option('--rejects <path>', 'where to write rejected rows (default: FILE.rejects.csv)')
    .option('--create-list', 'create the list if it does not exist')
    .option(
      '--update',
      "addresses already there get the row's attributes merged into theirs, and its name when it has one (without it they are left as they are)",
    )
    .action((file: string, o: { list: string; rejects?: string; createList?: boolean; update?: boolean }) =>
      withContext(async ({ db }) => {
        if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
        let listId = await findListId(db.kysely, o.list);
        if (listId === undefined) {
          if (!o.createList) throw new UserError(`list '${o.list}' does not exist (create it, or pass --create-list)`);
          listId = (await createList(db.kysely, o.list)) ?? (await findListId(db.kysely, o.list))!;
        }
        const started = Date.now();
        try {
          const s = await importRecipients(db, file, { listId, rejectsPath: o.rejects ?? `${file}.rejects.csv`, update: o.update ?? false });
          const seconds = (Date.now() - started) / 1000;
          console.log(
            `read ${s.rowsRead} rows in ${seconds.toFixed(1)} s: ${s.imported} new, ${s.updated} updated, ${s.unchanged} ${o.update ? 'unchanged' : 'already there (left as they are)'}, ` +
              `${s.addedToList} added to '${o.list}', ${s.rejected} rejected` +
              (s.rejected > 0 ? ` (see ${s.rejectsPath})` : ''),
          );
        } catch (err) {
          if (err instanceof ImportError) throw new UserError(err.message);
          throw err;
        }
      }),
    );
  recipients
    .command('count')
    .description('how many recipients (in a list, or in all)')
    .option('--list <name>', 'count the members of this list')
    .action((o: { list?: string }) =>
      withContext(async ({ db }) => {
        const listId = o.list === undefined ? undefined : await findListId(db.kysely, o.list);
        if (o.list !== undefined && listId === undefined) throw new UserError(`list '${o.list}' does not exist`);
        console.log(await countRecipients(db.kysely, listId));
      }),
    );
  recipients
    .command('show <email>')
    .description('one person: every campaign they were in (send state, outcome, opens, clicks), and whether and why they are suppressed')
    .option('--json', 'machine-readable output')
    .action((email: string, o: { json?: boolean }) =>
      withContext(async ({ db }) => {
        const view = await recipientHistoryView(db, email);
        console.log(o.json ? JSON.stringify(view, null, 2) : formatHistory(view));
      }),
    );
  registerRecipientWrites(recipients);
}

const attrsOf = (args: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const arg of args) {
    const a = parseAttributeArg(arg);
    if (!a.ok) throw new UserError(`--attr ${arg}: ${a.message}`);
    out[a.key] = a.value;
  }
  return out;
};

function printUpsert(s: UpsertSummary): void {
  console.log(`${s.created} created, ${s.updated} updated, ${s.unchanged} unchanged, ${s.addedToLists} added to lists, ${s.refused.length} refused`);
}

function printErasure(r: ErasureReport): void {
  if (!r.erased) {
    console.log(`${r.email} was already erased; nothing left to erase`);
    return;
  }
  console.log(`erased ${r.email} at ${r.erasedAt}`);
  console.log(`  lists left: ${r.lists.join(', ') || 'none'}`);
  console.log(`  suppression: ${r.suppression ? `kept as a hash (${r.suppression})` : 'none'}`);
  for (const c of r.campaigns) console.log(`  campaign ${c.campaignId}: ${c.status}${c.errorCode ? ` (${c.errorCode})` : ''}`);
  if (r.stillClaimed.length > 0)
    console.log(
      `  a worker still held a claim of them in campaign(s) ${r.stillClaimed.join(', ')} when the wait ended: it has been told not to send it, and the campaign's counts will say skipped (erased) or sent`,
    );
  if (r.unmatchedEventsDeleted > 0) console.log(`  ${r.unmatchedEventsDeleted} stray provider event(s) naming the address deleted`);
}

/** add, update, erase, readmit, export: recipients one by one (docs/http-api.md, "Recipients"). */
function registerRecipientWrites(recipients: Command): void {
  recipients
    .command('add [email]')
    .description('create or update recipients: one from the options, or many from --json FILE (a JSON array, or JSON Lines)')
    .option('--name <name>', 'their name')
    .option('--attr <key=value>', 'an attribute (repeatable); merged into what an existing recipient has', collect, [])
    .option('--list <name>', 'a list to add them to (repeatable; it must exist)', collect, [])
    .option('--json <file>', 'recipients as JSON: [{ "email", "name", "attributes", "lists" }, …] or one such object per line')
    .action(async (email: string | undefined, o: { name?: string; attr: string[]; list: string[]; json?: string }) => {
      const refused = await withContext(async ({ db }): Promise<number> => {
        if ((email === undefined) === (o.json === undefined)) throw new UserError('give one address, or --json FILE');
        if (email !== undefined) {
          const item = { email, ...(o.name !== undefined ? { name: o.name } : {}), attributes: attrsOf(o.attr), lists: o.list };
          const { items, refused } = parseRecipientItems([item]);
          const s = await upsertRecipients(db, items, refused);
          const problem = s.refused[0];
          if (problem) throw new UserError(`${problem.field}: ${problem.message}`);
          printUpsert(s);
          return 0;
        }
        const file = o.json!;
        if (o.name !== undefined || o.attr.length > 0 || o.list.length > 0)
          throw new UserError('--name, --attr and --list go with one address; in --json each item has its own');
        if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
        const total: UpsertSummary = { created: 0, updated: 0, unchanged: 0, addedToLists: 0, results: [], refused: [] };
        try {
          for await (const batch of readJsonRecipients(file)) {
            const lineOf = batch.map((b) => b.line);
            const bad = batch.flatMap((b, index) => ('error' in b ? [{ index, field: '(item)', message: b.error }] : []));
            const values = batch.map((b) => ('error' in b ? null : b.value));
            const parsed = parseRecipientItems(values);
            const refusedHere = parsed.refused.filter((r) => !bad.some((b) => b.index === r.index));
            const s = await upsertRecipients(db, parsed.items, [...bad, ...refusedHere]);
            for (const r of s.refused) console.error(`${file}:${lineOf[r.index]}: ${r.field === '(item)' ? '' : `${r.field}: `}${r.message}`);
            total.created += s.created;
            total.updated += s.updated;
            total.unchanged += s.unchanged;
            total.addedToLists += s.addedToLists;
            total.refused.push(...s.refused);
          }
        } catch (err) {
          if (err instanceof JsonFileError) throw new UserError(err.message);
          throw err;
        }
        printUpsert(total);
        return total.refused.length;
      });
      // Good items are stored whatever the others; the exit status says that some were not.
      // Set once the database is closed: closing PGlite resets the exit code.
      if (refused > 0) process.exitCode = 1;
    });
  recipients
    .command('update <email>')
    .description("change a recipient's name or attributes (merged: --attr sets one, --unset removes one, others stay)")
    .option('--name <name>', 'their new name')
    .option('--clear-name', 'remove their name')
    .option('--attr <key=value>', 'set an attribute (repeatable)', collect, [])
    .option('--unset <key>', 'remove an attribute (repeatable)', collect, [])
    .action((email: string, o: { name?: string; clearName?: boolean; attr: string[]; unset: string[] }) =>
      withContext(async ({ db }) => {
        if (o.name !== undefined && o.clearName) throw new UserError('--name and --clear-name together: which one?');
        const change: AttributeChange = { set: attrsOf(o.attr), unset: o.unset };
        if (o.name !== undefined) change.name = o.name.trim() === '' ? null : o.name.trim();
        if (o.clearName) change.name = null;
        if (change.name === undefined && o.attr.length === 0 && o.unset.length === 0)
          throw new UserError('nothing to change: give --name, --clear-name, --attr or --unset');
        const both = o.unset.find((k) => k in change.set);
        if (both !== undefined) throw new UserError(`'${both}' is both set (--attr) and removed (--unset)`);
        const r = await changeRecipient(db, email, change);
        console.log(
          `${r.email}${r.changed ? ' updated' : ' unchanged'}: name ${r.name === null ? '(none)' : JSON.stringify(r.name)}, attributes ${JSON.stringify(r.attributes)}`,
        );
      }),
    );
  recipients
    .command('erase <email>')
    .description(
      'erase a person: name, attributes, address, lists and event payloads go; delivery records and counts stay without the address (docs/operations.md)',
    )
    .option('--yes', 'yes, erase them (it cannot be undone)')
    .option('--suppress', 'keep "do not mail" for the address even if it was not suppressed')
    .option('--wait <seconds>', 'how long to wait for workers to drop a claim of the person', intArg(0), DEFAULT_ERASE_WAIT_MS / 1000)
    .action((email: string, o: { yes?: boolean; suppress?: boolean; wait: number }) =>
      withContext(async ({ db }) => {
        if (!o.yes) throw new UserError(`erasing ${email} cannot be undone: pass --yes`);
        printErasure(await eraseRecipient(db, email, { suppress: o.suppress ?? false, waitMs: o.wait * 1000 }));
      }),
    );
  recipients
    .command('readmit <email>')
    .description('let an erased address be stored again (the person signed up anew); a suppression it had comes back')
    .action((email: string) =>
      withContext(async ({ db }) => {
        const r = await readmitRecipient(db, email);
        console.log(`${r.email} may be stored again${r.suppressed ? `; it is suppressed (${r.suppressed}) as it was` : ''}`);
      }),
    );
  recipients
    .command('export')
    .description('a list as CSV: email, name, one column per attribute (what recipients import reads)')
    .requiredOption('--list <name>', 'the list to export')
    .option('--out <file>', 'write to this file (default: standard output)')
    .option('--raw', 'values exactly as stored, for a program to read back (default: a cell a spreadsheet would run as a formula starts with an apostrophe)')
    .action((o: { list: string; out?: string; raw?: boolean }) =>
      withContext(async ({ db }) => {
        const exported = await listExport(db, o.list, { spreadsheetSafe: !o.raw });
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
