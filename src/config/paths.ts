import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

/** The folder holding package.json, whether running from dist/ or another build folder. */
export const packageRoot = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** Campaign templates shipped with Herald; HERALD_TEMPLATES_DIR points elsewhere. */
export function templatesDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.HERALD_TEMPLATES_DIR ?? path.join(packageRoot, 'templates'));
}

/** Herald's version, from package.json. */
export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}
