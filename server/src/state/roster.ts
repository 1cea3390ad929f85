/**
 * An insertion-ordered set that stays cheap to scan from its start however it churns.
 *
 * V8 leaves a deleted entry's slot in a Set's table as a hole until the table is rebuilt (when it
 * fills up), and iteration steps over holes one by one. The scheduler's sets of workers with room
 * lose a worker when it takes a task and get it back, at the end, when the task ends: the holes
 * gather at the front, where placement looks at the first PLACEMENT_SCAN_LIMIT workers and stealing
 * for an idle one. At 10,000 workers such a look cost ~9 µs (a microbenchmark of that churn).
 * `compact` rebuilds the table, same order, once the deletions since the last outnumber
 * SLACK + size / SHARE (amortised: at most SHARE entries copied a deletion); call it where no
 * iteration is under way.
 */

/** Deletions tolerated beyond size / SHARE before `compact` rebuilds. */
const SLACK = 64;
const SHARE = 4;

export class Roster<T> implements Iterable<T> {
  private items = new Set<T>();
  private deleted = 0;
  private rebuilt = 0;

  get size(): number {
    return this.items.size;
  }

  /** How many times `compact` rebuilt the table. */
  get rebuilds(): number {
    return this.rebuilt;
  }

  has(item: T): boolean {
    return this.items.has(item);
  }

  add(item: T): this {
    this.items.add(item);
    return this;
  }

  delete(item: T): boolean {
    const had = this.items.delete(item);
    if (had) this.deleted++;
    return had;
  }

  [Symbol.iterator](): Iterator<T> {
    return this.items[Symbol.iterator]();
  }

  /** Rebuilds the table when deletions have left many holes. A new Set: an iterator already open keeps the old one. */
  compact(): void {
    if (this.deleted <= SLACK + this.items.size / SHARE) return;
    this.items = new Set(this.items);
    this.deleted = 0;
    this.rebuilt++;
  }
}
