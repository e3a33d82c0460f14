import { emailKey } from '../../domain/email.js';
import { addSuppressions, listSuppressions, removeSuppression } from '../../sql/suppressions.js';
import { HttpError, json, readJson } from '../http.js';
import type { ApiContext } from './context.js';
import type { Router } from './router.js';
import { addSuppressionsBody, parseInput, suppressionsQuery } from './schemas.js';

export function suppressionRoutes(router: Router, { db }: ApiContext): void {
  router.add('GET', '/api/v1/suppressions', async ({ query }) => {
    const q = parseInput(suppressionsQuery, Object.fromEntries(query), 'query');
    return json(200, { items: await listSuppressions(db.kysely, q.limit, q.reason) });
  });

  router.add('POST', '/api/v1/suppressions', async ({ req }) => {
    const body = parseInput(addSuppressionsBody, await readJson(req), 'body');
    const added = await addSuppressions(db.kysely, body.emails, body.reason, 'api');
    return json(200, { added, alreadySuppressed: new Set(body.emails).size - added });
  });

  router.add('DELETE', '/api/v1/suppressions/:email', async ({ params }) => {
    if (!(await removeSuppression(db.kysely, params.email!))) throw new HttpError(404, `'${params.email}' is not suppressed`);
    return json(200, { removed: emailKey(params.email!) });
  });
}
