import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse/sync';
import { importRecipients, ImportError } from '../../import/importRecipients.js';
import { createList, findListId, listLists } from '../../sql/lists.js';
import { HttpError, json, readJson } from '../http.js';
import type { ApiContext } from './context.js';
import type { Router } from './router.js';
import { createListBody, parseInput } from './schemas.js';

/** Rejected rows returned inline with an import; the rest are counted only. */
const REJECTS_SHOWN = 1000;

export function listRoutes(router: Router, { db }: ApiContext): void {
  router.add('GET', '/api/v1/lists', async () => json(200, { items: await listLists(db.kysely) }));

  router.add('POST', '/api/v1/lists', async ({ req }) => {
    const body = parseInput(createListBody, await readJson(req), 'body');
    const id = await createList(db.kysely, body.name);
    if (id === null) throw new HttpError(409, `list '${body.name}' already exists`);
    return json(201, { id, name: body.name });
  });

  // The upload streams to a temporary file, so a large CSV never sits in memory.
  router.add('POST', '/api/v1/lists/:name/recipients', async ({ req, params }) => {
    const listId = await findListId(db.kysely, params.name!);
    if (listId === undefined) throw new HttpError(404, `list '${params.name}' does not exist`);
    const type = req.headers['content-type'] ?? '';
    if (!/^text\/csv\b/i.test(type)) throw new HttpError(415, `expected content-type text/csv, got '${type || 'none'}'`);
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'herald-upload-'));
    try {
      const file = path.join(dir, 'upload.csv');
      await pipeline(req, fs.createWriteStream(file));
      const rejectsPath = path.join(dir, 'rejects.csv');
      const summary = await importRecipients(db, file, { listId, rejectsPath }).catch((err: unknown) => {
        if (err instanceof ImportError) throw new HttpError(400, err.message);
        throw err;
      });
      const rejects = (parse(await fs.promises.readFile(rejectsPath), { columns: true, to: REJECTS_SHOWN }) as Array<{ line: string; reason: string }>).map(
        (r) => ({ line: Number(r.line), reason: r.reason }),
      );
      const { rejectsPath: _local, ...counts } = summary;
      return json(200, { ...counts, rejects });
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  });
}
