/**
 * Prompt return of large values' memory. A value's bytes (a SharedArrayBuffer) go back to the
 * allocator only when V8 collects the last object that refers to them, and V8 schedules that by
 * its own heap, not by the hundreds of megabytes it keeps outside it: a worker that drops a
 * 100 MB value and receives the next one got fresh memory each time (page faults, no reuse), and a
 * 100 MB fetch that ran at 2.1 GB/s with a collection between fetches ran at 0.3–0.5 GB/s without.
 * So once RECLAIM_AFTER_BYTES of values have been dropped, a full collection runs on a later turn
 * (a few milliseconds on a worker's small heap). The main thread counts values leaving the store
 * and the fetched-input cache; each task thread counts what its task read and wrote.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes of dropped values after which a collection runs. */
export const RECLAIM_AFTER_BYTES = 64 * 1024 * 1024;

let collect: (() => void) | null | undefined;

/** V8's full collection, exposed at run time; null where it cannot be. */
function collector(): (() => void) | null {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = null;
    }
  }
  return collect;
}

export class Reclaimer {
  private owed = 0;
  private scheduled = false;

  /** `bytes` of values are no longer referenced by this thread's code. */
  readonly dropped = (bytes: number): void => {
    this.owed += bytes;
    if (this.owed < RECLAIM_AFTER_BYTES || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.owed = 0;
      collector()?.();
    });
  };
}
