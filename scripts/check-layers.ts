import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../src/config/paths.js';

/**
 * Fails when a module imports one from a higher layer. Layers, top to bottom:
 *   cli → app → http → campaigns, sender → provider, sql, import, db → domain
 * tools/mock-mailgun sits between app and cli: only the CLI may import it.
 *   (config: the environment's settings, package paths and the logger, at the level of db)
 * Within one layer, folders may import each other in one direction only (no cycle between two folders).
 * Type-only imports count like any other.
 */
const LAYERS: Record<string, number> = {
  'src/cli': 7,
  'tools/mock-mailgun': 6,
  'src/app': 5,
  'src/http': 4,
  'src/campaigns': 3,
  'src/sender': 3,
  'src/events': 3,
  'src/provider': 2,
  'src/sql': 2,
  'src/import': 2,
  'src/db': 2,
  'src/config': 2,
  'src/domain': 1,
};

function folderOf(file: string): string | undefined {
  return Object.keys(LAYERS).find((folder) => file.startsWith(folder + '/'));
}

function* walk(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(path.join(packageRoot, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) yield* walk(rel);
    else if (entry.name.endsWith('.ts')) yield rel;
  }
}

const IMPORT = /^\s*(?:import|export)\s(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm;

const problems: string[] = [];
const sideways = new Map<string, string>();
let files = 0;
let edges = 0;
for (const root of ['src', 'tools']) {
  if (!fs.existsSync(path.join(packageRoot, root))) continue;
  for (const file of walk(root)) {
    files++;
    const from = folderOf(file);
    if (!from) {
      problems.push(`${file}: in no layer (add its folder to LAYERS in scripts/check-layers.ts)`);
      continue;
    }
    const text = fs.readFileSync(path.join(packageRoot, file), 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) continue;
      edges++;
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
      const to = folderOf(target);
      if (!to) {
        problems.push(`${file} imports ${target}, which is in no layer`);
        continue;
      }
      if (to === from) continue;
      if (LAYERS[to]! > LAYERS[from]!) {
        problems.push(`${file} (${from}) imports ${target} (${to}), a higher layer`);
      } else if (LAYERS[to] === LAYERS[from]) {
        sideways.set(`${from} → ${to}`, file);
        const back = sideways.get(`${to} → ${from}`);
        if (back) problems.push(`${from} and ${to} import each other (${file}, ${back})`);
      }
    }
  }
}

if (problems.length > 0) {
  console.error(`check-layers: ${problems.length} problem(s)`);
  for (const p of problems) console.error(`  ${p}`);
  process.exitCode = 1;
} else {
  console.log(`check-layers: ok (${files} files, ${edges} relative imports; sideways: ${[...sideways.keys()].sort().join(', ') || 'none'})`);
}
