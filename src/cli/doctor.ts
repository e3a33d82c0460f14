import type { Command } from 'commander';
import { recountKeptCounts, type CountDifference } from '../sql/recountKeptCounts.js';
import { withContext } from './context.js';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check that the kept counts (per campaign, status and reason; per list) equal the rows; exits 1 on a difference')
    .option('--recount', 'also correct every difference found, and say what was corrected')
    .action((o: { recount?: boolean }) =>
      withContext(async ({ db }) => {
        const differences = await recountKeptCounts(db.kysely, { fix: o.recount === true });
        if (differences.length === 0) {
          console.log('kept counts: equal to the rows');
          return;
        }
        for (const d of differences) console.log(`${o.recount ? 'corrected' : 'differs'}: ${describe(d)}`);
        if (!o.recount) {
          console.log(`kept counts: ${differences.length} difference(s); \`herald doctor --recount\` corrects them`);
          process.exitCode = 1;
        } else {
          console.log(`kept counts: ${differences.length} difference(s) corrected`);
        }
      }),
    );
}

function describe(d: CountDifference): string {
  const what = d.kind === 'list' ? `list ${d.id} members` : `campaign ${d.id} ${d.status}${d.reason ? ` (${d.reason})` : ''}`;
  return `${what}: kept ${d.kept}, rows ${d.actual}`;
}
