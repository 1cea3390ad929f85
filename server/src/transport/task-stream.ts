/**
 * The task stream's memory: the last `capacity` task runs, in a ring (the oldest are overwritten),
 * each with a sequence number so that every dashboard reads only what it has not seen yet.
 */
import type { DashboardChannel } from '@meshwork/protocol';

type Entry = DashboardChannel.StreamEntry;

export class TaskStream {
  private readonly ring: (Entry | undefined)[];
  /** Sequence number of the next entry; entry `s` lives at `ring[s % capacity]`. */
  private next = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be a positive integer, not ${capacity}`);
    this.ring = new Array<Entry | undefined>(capacity);
  }

  push(entry: Entry): void {
    this.ring[this.next % this.capacity] = entry;
    this.next++;
  }

  /** Entries kept now (at most `capacity`). */
  get size(): number {
    return Math.min(this.next, this.capacity);
  }

  /** The cursor after the newest entry: `since(cursor)` then gives only later entries. */
  get cursor(): number {
    return this.next;
  }

  /**
   * The entries after `cursor` that are still kept, oldest first (the newest `max` of them at
   * most), and the cursor to pass next time.
   */
  since(cursor: number, max = this.capacity): { entries: Entry[]; cursor: number } {
    const from = Math.max(cursor, this.next - Math.min(this.capacity, max), 0);
    const entries: Entry[] = [];
    for (let s = from; s < this.next; s++) entries.push(this.ring[s % this.capacity] as Entry);
    return { entries, cursor: this.next };
  }
}
