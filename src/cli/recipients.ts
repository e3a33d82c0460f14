import fs from 'node:fs';
import type { Command } from 'commander';
import { formatHistory, recipientHistoryView } from '../campaigns/history.js';
import { UserError } from '../domain/errors.js';
import { ImportError, importRecipients } from '../import/importRecipients.js';
import { countRecipients } from '../sql/countRecipients.js';
import { createList } from '../sql/createList.js';
import { findListId } from '../sql/findListId.js';
import { withContext } from './context.js';

export function registerRecipientCommands(program: Command): void {
  const recipients = program.command('recipients').description('import and count recipients');
  recipients
    .command('import <file>')
    .description('import a CSV (header with an email column; name optional; other columns become attributes)')
    .requiredOption('--list <name>', 'list to add the recipients to')
    .option('--rejects <path>', 'where to write rejected rows (default: FILE.rejects.csv)')
    .option('--create-list', 'create the list if it does not exist')
    .action((file: string, o: { list: string; rejects?: string; createList?: boolean }) =>
      withContext(async ({ db }) => {
        if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
        let listId = await findListId(db.kysely, o.list);
        if (listId === undefined) {
          if (!o.createList) throw new UserError(`list '${o.list}' does not exist (create it, or pass --create-list)`);
          listId = (await createList(db.kysely, o.list)) ?? (await findListId(db.kysely, o.list))!;
        }
        const started = Date.now();
        try {
          const s = await importRecipients(db, file, { listId, rejectsPath: o.rejects ?? `${file}.rejects.csv` });
          const seconds = (Date.now() - started) / 1000;
          console.log(
            `read ${s.rowsRead} rows in ${seconds.toFixed(1)} s: ${s.imported} new, ${s.updated} updated, ${s.unchanged} unchanged, ` +
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
}
