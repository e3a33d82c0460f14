import { Piscina, workerData } from 'piscina';
import { formatDeliveryId } from '../../domain/deliveryId.js';
import { signUnsubscribeToken } from '../../domain/unsubscribeToken.js';
import { MultipartWriter, type FormField } from '../../provider/mailgun/multipart.js';
import { compileContent, describeError, type CompiledCampaign } from './compile.js';
import { textFromHtml } from './derivedText.js';
import { useFasterRuntime } from './fasterRuntime.js';
import type { CampaignRenderSpec, RenderRecipient, RenderResult, RenderTask } from './types.js';

/** A campaign ready to render in this thread: compiled templates and its static body part. */
interface Prepared {
  compiled: CompiledCampaign;
  writer: MultipartWriter;
}

useFasterRuntime();

const LINE_BREAK = 'contains a line break (CR or LF), which would start a new mail header';

const CACHE_SIZE = 16;
/**
 * By spec key (campaign, content hash, run): what was prepared, or why it could not be. A
 * key's content never changes, so a campaign whose content does not compile fails each later
 * batch from here instead of compiling it all again.
 */
const cache = new Map<string, Prepared | { error: string }>();
/**
 * Where this thread writes a batch's bodies before copying them out at their exact size.
 * Kept and grown, never shrunk: a batch buffer sized with headroom would carry that headroom
 * (a fifth of it) through the send queue of the main thread.
 */
let scratch = Buffer.allocUnsafeSlow(4 * 1024 * 1024);
/** Batch buffers the main thread has finished with (see BodyBatch), reused before allocating. */
const spares: ArrayBuffer[] = [];
/**
 * Spares come back in bursts (0 to 8 with a task, one on average), so a small cap drops
 * buffers that a later task then allocates anew. A new resizable buffer faults in every page
 * of its batch on the first write, far slower than reusing one (BENCHMARKS.md, "Why these hand-written parts").
 * With 4 spares a run's batches were often new; with 16, only those filling the
 * pipeline at the start. The cap still bounds what an idle thread holds (a batch's size a spare).
 */
const MAX_SPARES = 16;
/**
 * Batch buffers are resizable: V8 backs those with pages of their own (not malloc), commits
 * only their current length, and returns the pages cut off by a shrink to the system at once.
 * A reused buffer is resized to its batch's exact size, so every spare fits every batch, and
 * none leaves a freed hole in a malloc arena: with plain buffers of varying sizes the render
 * thread's arena kept more than it held over a 1M campaign (BENCHMARKS.md, "Why these hand-written parts"). Only
 * address space is reserved up to this length.
 */
const BATCH_MAX_BYTES = 16 * 1024 * 1024;

/** Keeps a buffer handed back for reuse; one too many gives its pages back now, not at a GC. */
function keepSpare(buffer: ArrayBuffer): void {
  if (!buffer.resizable) return;
  if (spares.length < MAX_SPARES) spares.push(buffer);
  else buffer.resize(0);
}

/** A buffer of exactly `bytes` for a batch's bodies: a spare that can grow to it, or a new one. */
function batchBuffer(bytes: number): ArrayBuffer {
  const i = spares.findIndex((spare) => spare.maxByteLength >= bytes);
  if (i >= 0) {
    const spare = spares.splice(i, 1)[0]!;
    spare.resize(bytes);
    return spare;
  }
  return new ArrayBuffer(bytes, { maxByteLength: Math.max(bytes, BATCH_MAX_BYTES) });
}

function prepare(spec: CampaignRenderSpec): Prepared {
  const prepared = cachedPrepare(spec);
  if ('error' in prepared) throw new Error(prepared.error);
  return prepared;
}

function cachedPrepare(spec: CampaignRenderSpec): Prepared | { error: string } {
  const hit = cache.get(spec.key);
  if (hit) {
    // Re-insert to keep the map in least-recently-used order.
    cache.delete(spec.key);
    cache.set(spec.key, hit);
    return hit;
  }
  let prepared: Prepared | { error: string };
  try {
    prepared = compilePrepared(spec);
  } catch (err) {
    prepared = { error: (err as Error).message };
  }
  cache.set(spec.key, prepared);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return prepared;
}

function compilePrepared(spec: CampaignRenderSpec): Prepared {
  // Checked at create; a campaign stored before that check (or written to the database
  // directly) must not send a header with a line break either: every recipient fails.
  for (const [header, value] of [['From', spec.from], ['Reply-To', spec.replyTo ?? ''], ...spec.tags.map((tag) => ['X-Mailgun-Tag', tag])] as const) {
    if (/[\r\n]/.test(value)) throw new Error(`${header} header: ${LINE_BREAK}`);
  }
  const staticFields: FormField[] = [['from', spec.from]];
  for (const tag of spec.tags) staticFields.push(['o:tag', tag]);
  if (spec.replyTo) staticFields.push(['h:Reply-To', spec.replyTo]);
  if (spec.unsubscribe) staticFields.push(['h:List-Unsubscribe-Post', 'List-Unsubscribe=One-Click']);
  staticFields.push(['v:herald-campaign', String(spec.campaignId)]);
  // One boundary for the whole pool (see RenderPool): a task split across threads after a
  // timeout still yields bodies that share one Content-Type.
  const boundary = (workerData as { boundary?: string } | undefined)?.boundary;
  if (!spec.content) throw new Error(spec.contentError ?? 'the campaign has no content');
  return { compiled: compileContent(spec.content), writer: new MultipartWriter(staticFields, boundary) };
}

function renderOne(spec: CampaignRenderSpec, p: Prepared, r: RenderRecipient, now: Date, testSendTo: string | undefined): FormField[] | string {
  let unsubscribeUrl = '#';
  let listUnsubscribe: string | null = null;
  if (spec.unsubscribe) {
    const token = signUnsubscribeToken({ campaignId: spec.campaignId, recipientId: r.recipientId, email: r.email }, spec.unsubscribe.secret);
    unsubscribeUrl = `${spec.unsubscribe.baseUrl}/u/${token}`;
    listUnsubscribe = `<${unsubscribeUrl}>, <mailto:${spec.unsubscribe.mailto}?subject=unsubscribe-${token}>`;
  }
  const recipient = assignOwn({}, r.attributes);
  recipient.email = r.email;
  recipient.name = r.name;
  const context = assignOwn({}, p.compiled.globals);
  context.recipient = recipient;
  context.name = r.name;
  context.email = r.email;
  context.attributes = r.attributes;
  context.campaign = { id: spec.campaignId, name: spec.campaignName };
  context.unsubscribe_url = unsubscribeUrl;
  context.now = now;
  let subject: string;
  let html: string;
  let text: string;
  try {
    subject = p.compiled.subject.render(context).trim();
    html = p.compiled.html.render(context);
    text = p.compiled.text ? p.compiled.text.render(context) : textFromHtml(html);
  } catch (err) {
    return describeError(err, spec.content!.template);
  }
  // After trim, a line break left in the subject came from the data (a recipient's field) and
  // would end the Subject header and start another: this recipient fails, nothing is sent.
  if (/[\r\n]/.test(subject)) return `subject: the rendered Subject header ${LINE_BREAK}`;
  const fields: FormField[] = testSendTo
    ? [
        ['to', testSendTo],
        ['subject', `[TEST] ${subject}`],
        ['html', html],
        ['text', text],
        ['v:herald-delivery', `${spec.campaignId}.test`],
      ]
    : [
        ['to', r.name ? `${quoteName(r.name)} <${r.email}>` : r.email],
        ['subject', subject],
        ['html', html],
        ['text', text],
        ['v:herald-delivery', formatDeliveryId(spec.campaignId, r.recipientId)],
      ];
  if (listUnsubscribe) fields.push(['h:List-Unsubscribe', listUnsubscribe]);
  return fields;
}

/**
 * `{ ...source }` without object spread. On Node 20, spreading a recipient's attributes and
 * the templates' globals cost many times what this loop does, and the spread copies
 * outlived two young-generation collections and were promoted (BENCHMARKS.md, "Why these hand-written parts");
 * Node 24 is as fast either way. Like spread, an own `__proto__` key (JSON
 * can carry one) becomes a plain property instead of changing the copy's prototype.
 */
function assignOwn(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  for (const key in source) {
    if (!Object.hasOwn(source, key)) continue;
    if (key === '__proto__') Object.defineProperty(target, key, { value: source[key], enumerable: true, writable: true, configurable: true });
    else target[key] = source[key];
  }
  return target;
}

/** RFC 5322 display name: quoted when it has specials, so "Doe, Jane" stays one address. */
function quoteName(name: string): string {
  const clean = name.replace(/[\r\n]/g, ' ');
  return /^[\w !#$%&'*+\-/=?^`{|}~]*$/.test(clean) ? clean : `"${clean.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * Publishes which recipient this thread is rendering and since when. The start is stored
 * before the index, so a reader that sees the same index before and after reading the start
 * never gets an earlier start than that recipient's own (it may get a later one, which only
 * delays a timeout).
 */
function mark(progress: Int32Array, index: number, base: number): void {
  Atomics.store(progress, 1, Date.now() - base);
  Atomics.store(progress, 0, index);
}

/** Piscina entry point: renders a batch into one transferable buffer of request bodies. */
export default function renderBatch(task: RenderTask): unknown {
  const n = task.recipients.length;
  const offsets = new Int32Array(n).fill(-1);
  const lengths = new Int32Array(n);
  const failures: RenderResult['failures'] = [];
  for (const spare of task.spareBuffers ?? []) keepSpare(spare);
  const progress = task.progress;
  const base = task.progressBase ?? 0;
  if (progress) mark(progress, -1, base);
  let prepared: Prepared;
  try {
    prepared = prepare(task.spec);
  } catch (err) {
    const message = (err as Error).message;
    for (let i = 0; i < n; i++) failures.push({ index: i, code: 'render_error', message });
    return { bodies: new ArrayBuffer(0), offsets, lengths, contentType: '', failures } satisfies RenderResult;
  }
  const now = new Date();
  // One UTF-8 encoding pass into the scratch buffer, then one copy into a batch buffer moved
  // to the main thread: no per-message buffer, no structured clone, and no headroom carried
  // through the send queue.
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (progress) mark(progress, i, base);
    const fields = renderOne(task.spec, prepared, task.recipients[i]!, now, task.testSendTo);
    if (typeof fields === 'string') {
      failures.push({ index: i, code: 'render_error', message: fields });
      continue;
    }
    const needed = prepared.writer.maxBytes(fields);
    if (total + needed > scratch.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(scratch.length * 2, total + needed));
      scratch.copy(grown, 0, 0, total);
      scratch = grown;
    }
    const length = prepared.writer.writeInto(scratch, total, fields);
    offsets[i] = total;
    lengths[i] = length;
    total += length;
  }
  const bodies = batchBuffer(total);
  scratch.copy(new Uint8Array(bodies), 0, 0, total);
  const result: RenderResult = { bodies, offsets, lengths, contentType: prepared.writer.contentType, failures };
  // Moved, not copied: the main thread gets the bodies without a structured clone.
  return Piscina.move({
    [Piscina.transferableSymbol]: [result.bodies, offsets.buffer, lengths.buffer],
    [Piscina.valueSymbol]: result,
  } as unknown as ArrayBuffer);
}
