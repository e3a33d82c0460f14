import type { Db } from '../db/connect.js';
import { emailKey } from '../domain/email.js';
import { erasedAddressHash } from '../domain/erasure.js';
import { NotFoundError } from '../domain/errors.js';
import type { AttributeChange, RecipientUpsert, Refusal } from '../domain/recipientInput.js';
import { erasureKey } from '../sql/erasure/erasureKey.js';
import { wasErased } from './erasure.js';
import { findErasedAddresses } from '../sql/erasure/findErasedAddresses.js';
import { shareErasureLock } from '../sql/erasure/erasureLock.js';
import { findListId } from '../sql/findListId.js';
import { countListMembers } from '../sql/countListMembers.js';
import { addListMembers } from '../sql/recipients/addListMembers.js';
import { findListIds } from '../sql/recipients/findListIds.js';
import { removeListMember } from '../sql/recipients/removeListMember.js';
import { updateRecipient } from '../sql/recipients/updateRecipient.js';
import { upsertRecipientItems, type UpsertStatus } from '../sql/recipients/upsertRecipientItems.js';

// Recipients managed one by one (docs/http-api.md, "Recipients"), shared by the API and the CLI.

export interface UpsertResult {
  index: number;
  email: string;
  status: UpsertStatus;
  /** Lists it was added to now (it was not in them before). */
  addedTo: string[];
}

export interface UpsertSummary {
  created: number;
  updated: number;
  unchanged: number;
  addedToLists: number;
  results: UpsertResult[];
  refused: Refusal[];
}

/** What an erased address is told when someone tries to store it again. */
export function erasedRefusal(erasedAt: Date): string {
  return `this address was erased on ${erasedAt.toISOString().slice(0, 10)} (a request to erase a person's data); it is not stored again unless an operator readmits it (herald recipients readmit)`;
}

/**
 * Creates or updates valid recipients (parseRecipientItems), and adds them to the lists they
 * name. An item is refused (with its index and field), and the others still stored, when its
 * address was erased or a list it names does not exist. One transaction: a failure of the
 * database stores none of them.
 */
export async function upsertRecipients(
  db: Db,
  items: ReadonlyArray<{ index: number; value: RecipientUpsert }>,
  refusedBefore: readonly Refusal[] = [],
): Promise<UpsertSummary> {
  const refused: Refusal[] = [...refusedBefore];
  const summary: UpsertSummary = { created: 0, updated: 0, unchanged: 0, addedToLists: 0, results: [], refused };
  if (items.length === 0) return summary;
  const key = await erasureKey(db.kysely);
  const hashes = items.map((i) => erasedAddressHash(key, i.value.email));
  await db.kysely.transaction().execute(async (trx) => {
    // Checked under the erasure lock: an erasure committing meanwhile is seen (sql/erasure/erasureLock.ts).
    await shareErasureLock(trx);
    const erased = await findErasedAddresses(trx, hashes);
    const listIds = await findListIds(trx, [...new Set(items.flatMap((i) => i.value.lists))]);
    const accepted = items.filter((item, n) => {
      const gone = erased.get(hashes[n]!);
      if (gone) {
        refused.push({ index: item.index, field: 'email', message: erasedRefusal(gone.erasedAt) });
        return false;
      }
      const missing = item.value.lists.findIndex((l) => !listIds.has(l));
      if (missing >= 0) {
        refused.push({ index: item.index, field: `lists.${missing}`, message: `list '${item.value.lists[missing]}' does not exist` });
        return false;
      }
      return true;
    });
    refused.sort((a, b) => a.index - b.index);
    if (accepted.length === 0) return;
    const stored = await upsertRecipientItems(
      trx,
      accepted.map((i) => i.value),
    );
    const idOf = (item: { value: RecipientUpsert }) => stored.get(item.value.email.toLowerCase())!.id;
    const added = await addListMembers(
      trx,
      accepted.flatMap((item) => item.value.lists.map((list) => ({ listId: listIds.get(list)!, recipientId: idOf(item) }))),
    );
    const addedSet = new Set(added.map((p) => `${p.listId}.${p.recipientId}`));
    summary.addedToLists = added.length;
    for (const item of accepted) {
      const got = stored.get(item.value.email.toLowerCase())!;
      summary[got.status]++;
      const addedTo = item.value.lists.filter((list) => addedSet.has(`${listIds.get(list)}.${got.id}`));
      summary.results.push({ index: item.index, email: item.value.email, status: got.status, addedTo });
    }
  });
  return summary;
}

/** Merges an attribute change into one recipient (PATCH, `recipients update`). */
export async function changeRecipient(db: Db, email: string, change: AttributeChange) {
  const updated = await updateRecipient(db.kysely, email, change);
  if (!updated) throw new NotFoundError(await noRecipient(db, email));
  return { email: updated.email, name: updated.name, attributes: updated.attributes, changed: updated.changed };
}

/** Takes one person out of one list; its member count follows (a trigger, migration 0008). */
export async function removeFromList(db: Db, listName: string, email: string) {
  const listId = await findListId(db.kysely, listName);
  if (listId === undefined) throw new NotFoundError(`list '${listName}' does not exist`);
  if (!(await removeListMember(db.kysely, listId, email))) throw new NotFoundError(`${JSON.stringify(emailKey(email))} is not in list '${listName}'`);
  return { list: listName, removed: emailKey(email), members: await countListMembers(db.kysely, listId) };
}

/** Why no recipient has this address: never had one, or erased. */
async function noRecipient(db: Db, email: string): Promise<string> {
  return (await wasErased(db, email)) ? `${JSON.stringify(emailKey(email))} was erased` : `no recipient with the address ${JSON.stringify(emailKey(email))}`;
}
