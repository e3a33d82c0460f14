/**
 * The contract between the main thread and the render workers. Everything here crosses a
 * thread boundary, so it is plain data (structured-clone friendly).
 */

import type { ContentSources } from '../../domain/content.js';

/** What a worker needs to render one campaign; compiled once per worker and cached by `key`. */
export interface CampaignRenderSpec {
  /** Cache key: changes whenever anything below changes (`${campaignId}:${content hash}:${runKey}`). */
  key: string;
  campaignId: number;
  campaignName: string;
  /**
   * What the campaign renders from: its stored snapshot once it has started, else made from
   * the files (sender/render/campaignSpec.ts). Null with `contentError` when a campaign
   * started before snapshots existed has files that no longer make one: every recipient
   * fails with that error, as they did when a template broke.
   */
  content: ContentSources | null;
  contentError?: string;
  from: string;
  replyTo: string | null;
  tags: string[];
  /** One-click unsubscribe (RFC 8058); null leaves the headers out. */
  unsubscribe: { baseUrl: string; mailto: string; secret: string } | null;
}

export interface RenderRecipient {
  recipientId: number;
  email: string;
  name: string | null;
  attributes: Record<string, unknown>;
}

export interface RenderTask {
  spec: CampaignRenderSpec;
  recipients: RenderRecipient[];
  /**
   * A test send: rendered for these recipients but addressed to `to`, subject marked
   * [TEST], and not tied to any delivery record.
   */
  testSendTo?: string;
  /** Spent batch buffers handed back for reuse (moved, not copied); see BodyBatch. */
  spareBuffers?: ArrayBuffer[];
  /**
   * Set by the pool, shared with the render thread (a SharedArrayBuffer): [0] the index of the
   * recipient being rendered (-1 while the templates compile), [1] when it started, in ms
   * since `progressBase` (a Date.now() value). Lets the pool time each recipient on its own
   * and know which one to blame when a render runs too long.
   */
  progress?: Int32Array;
  progressBase?: number;
}

export type RenderFailureCode = 'render_error' | 'render_timeout';

/**
 * Ready-to-send request bodies for a batch, concatenated into one transferable buffer so the
 * main thread neither copies nor re-encodes them.
 */
export interface RenderResult {
  /** All successful bodies back to back. */
  bodies: ArrayBuffer;
  /** Per recipient (same order as the task): byte offset into `bodies`, or -1 if it failed. */
  offsets: Int32Array;
  /** Per recipient: byte length of its body (0 if it failed). */
  lengths: Int32Array;
  /** Content-Type header for every body of this campaign (carries the multipart boundary). */
  contentType: string;
  failures: Array<{ index: number; code: RenderFailureCode; message: string }>;
}
