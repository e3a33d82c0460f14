import fs from 'node:fs';
import { type Command, Option } from 'commander';
import type { SuppressionReason } from '../db/schema.js';
import { emailKey, normalizeEmail } from '../domain/email.js';
import { UserError } from '../domain/errors.js';
import { lineFields, readCsv } from '../import/csvRecords.js';
import { addSuppressions } from '../sql/addSuppressions.js';
import { listSuppressions } from '../sql/listSuppressions.js';
import { removeSuppression } from '../sql/removeSuppression.js';
import { intArg } from './args.js';
import { withContext } from './context.js';

const reasons = ['unsubscribed', 'bounced', 'complained', 'manual'];

export function registerSuppressionCommands(program: Command): void {
  const s = program.command('suppressions').description('addresses that are never sent to');
  s.command('add <email...>')
    .description('suppress addresses (running campaigns skip them from their next batch on)')
    .addOption(new Option('--reason <reason>', 'why').choices(reasons).default('manual'))
    .action((emails: string[], o: { reason: SuppressionReason }) =>
      withContext(async ({ db }) => {
        const valid = emails.map((e) => {
          const n = normalizeEmail(e);
          if (!n.ok) throw new UserError(`'${e}': ${n.reason}`);
          return n.email;
        });
        const added = await addSuppressions(db.kysely, valid, o.reason, 'cli');
        console.log(`${added} added, ${valid.length - added} already suppressed`);
      }),
    );
  s.command('rm <email>')
    .description('remove an address from the suppression list')
    .action((email: string) =>
      withContext(async ({ db }) => {
        if (!(await removeSuppression(db.kysely, email))) throw new UserError(`'${email}' is not suppressed`);
        console.log(`removed ${emailKey(email)}`);
      }),
    );
  s.command('ls')
    .description('newest suppressions first')
    .option('--limit <n>', 'how many', intArg(), 100)
    .addOption(new Option('--reason <reason>', 'only this reason').choices(reasons))
    .action((o: { limit: number; reason?: SuppressionReason }) =>
      withContext(async ({ db }) => {
        for (const r of await listSuppressions(db.kysely, o.limit, o.reason)) {
          console.log(`${r.createdAt.toISOString()}  ${r.reason.padEnd(12)}  ${r.email}${r.source ? `  (${r.source})` : ''}`);
        }
      }),
    );
  s.command('import <file>')
    .description('suppress every address in a CSV (an email column, or one address per line)')
    .addOption(new Option('--reason <reason>', 'why').choices(reasons).default('manual'))
    .action((file: string, o: { reason: SuppressionReason }) =>
      withContext(async ({ db }) => {
        if (!fs.existsSync(file)) throw new UserError(`${file}: no such file`);
        let column = 0;
        let first = true;
        let batch: string[] = [];
        let added = 0;
        let rejected = 0;
        const flush = async (): Promise<void> => {
          added += await addSuppressions(db.kysely, batch, o.reason, `import:${file}`);
          batch = [];
        };
        for await (const item of readCsv(file, (line) => normalizeEmail(lineFields(line)?.[column]).ok)) {
          if (item.kind === 'reject') {
            console.error(`${file}:${item.reject.line}: ${item.reject.reason}`);
            rejected++;
            continue;
          }
          const { line, fields } = item.record;
          if (first) {
            first = false;
            const header = fields.findIndex((f) => f.trim().toLowerCase() === 'email');
            if (header >= 0) {
              column = header;
              continue;
            }
          }
          const email = normalizeEmail(fields[column]);
          if (!email.ok) {
            console.error(`${file}:${line}: ${email.reason}`);
            rejected++;
            continue;
          }
          batch.push(email.email);
          if (batch.length >= 5000) await flush();
        }
        await flush();
        console.log(`${added} suppressed, ${rejected} rejected`);
      }),
    );
}
