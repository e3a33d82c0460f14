/**
 * The main thread's handle on one render batch's buffer. Every message of the batch sends a
 * view into it; once each of them is done with its view, the buffer goes back to the render
 * threads to hold a later batch. Spent batch buffers are otherwise freed only by a full
 * collection of the main thread's heap, which V8 runs after tens of megabytes of them have
 * piled up.
 *
 * A message is done with its view once its request has an outcome. A complete response means
 * the server has decided about the request: it has read the body, or it answered early and
 * discards whatever of the body still arrives, so those bytes can no longer change anything.
 * A request that fails without a response has had its socket destroyed by undici before the
 * failure is reported, so no write of the view is pending. A message that is retried copies
 * its body out before it lets go of the view.
 */
export class BodyBatch {
  private remaining: number;

  constructor(
    private readonly buffer: ArrayBuffer,
    messages: number,
    private readonly recycle: (buffer: ArrayBuffer) => void,
  ) {
    this.remaining = messages;
  }

  /** One message no longer reads its view. */
  done(): void {
    if (--this.remaining === 0) this.recycle(this.buffer);
  }
}
