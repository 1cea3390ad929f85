/**
 * Batching of control messages per event-loop turn: messages queued during one turn leave
 * together in one frame at the end of it, with no fixed delay (dask waits 2–10 ms instead).
 */

/** Runs a callback once the current turn's I/O and microtasks are done. */
export type TurnScheduler = (callback: () => void) => void;

export const nextTurn: TurnScheduler =
  typeof setImmediate === 'function' ? (cb) => setImmediate(cb) : (cb) => setTimeout(cb, 0);

export class Batcher<M> {
  private queue: M[] = [];
  private scheduled = false;

  constructor(
    private readonly flush: (batch: M[]) => void,
    private readonly schedule: TurnScheduler = nextTurn,
  ) {}

  send(message: M): void {
    this.queue.push(message);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flushNow());
    }
  }

  /** Sends what is queued at once (e.g. before closing). */
  flushNow(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.flush(batch);
  }

  /** Drops what is queued (the connection is gone). */
  clear(): void {
    this.queue = [];
  }
}
