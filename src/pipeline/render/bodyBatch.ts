/**
 * The main thread's handle on one render batch's buffer. Every message of the batch sends a
 * view into it; once each of them is done with its view, the buffer goes back to the render
 * threads to hold a later batch. Spent batch buffers are otherwise freed only by a full
 * collection of the main thread's heap, which V8 runs after tens of megabytes of them have
 * piled up.
 *
 * A buffer goes back only when every message ended with a 2xx: a server that accepted a
 * message has read its whole body, so no socket write can still be reading the memory. After
 * any other outcome (an error status may come before the body was read; a timeout; a stop)
 * the buffer is left to the garbage collector, which is always safe.
 */
export class BodyBatch {
  private remaining: number;
  private reusable = true;

  constructor(
    private readonly buffer: ArrayBuffer,
    messages: number,
    private readonly recycle: (buffer: ArrayBuffer) => void,
  ) {
    this.remaining = messages;
  }

  /** One message no longer reads its view; `accepted` when it ended with a 2xx. */
  done(accepted: boolean): void {
    if (!accepted) this.reusable = false;
    if (--this.remaining === 0 && this.reusable) this.recycle(this.buffer);
  }
}
