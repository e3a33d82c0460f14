import type { Command } from 'commander';
import { UserError } from '../domain/errors.js';
import { createList } from '../sql/createList.js';
import { listLists } from '../sql/listLists.js';
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
}
