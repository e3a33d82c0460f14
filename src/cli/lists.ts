import type { Command } from 'commander';
import { UserError } from '../domain/errors.js';
import { createList } from '../sql/createList.js';
import { listLists } from '../sql/listLists.js';
import { removeFromList } from '../campaigns/recipients.js';
import { withContext } from './context.js';

export function registerListCommands(program: Command): void {
  const lists = program.command('lists').description('manage recipient lists');
  lists
    .command('create <name>')
    .description('create a list')
    .action((name: string) =>
      withContext(async ({ db }) => {
        const id = await createList(db.kysely, name);
        if (id === null) throw new UserError(`list '${name}' already exists`);
        console.log(id);
      }),
    );
  lists
    .command('ls')
    .description('lists with their ids and member counts')
    .action(() =>
      withContext(async ({ db }) => {
        const rows = await listLists(db.kysely);
        if (rows.length === 0) console.log('no lists yet (herald lists create NAME)');
        for (const r of rows) console.log(`${String(r.id).padStart(5)}  ${r.name}  (${r.members} members)`);
      }),
    );
  lists
    .command('remove <list> <email>')
    .description('take one person out of a list (they stay a recipient, and in their other lists)')
    .action((list: string, email: string) =>
      withContext(async ({ db }) => {
        const r = await removeFromList(db, list, email);
        console.log(`removed ${r.removed} from '${r.list}' (${r.members} members left)`);
      }),
    );
}
