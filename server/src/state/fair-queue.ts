/**
 * The ready queue, shared fairly: tenants (clients, see tenancy.ts) take turns, one task each, and
 * within a tenant its tasks go by its own order (`priority`, then submission). One client's
 * thousands of queued tasks do not hold up another's one, and no client jumps the queue of
 * others with `priority`: it orders only its own tasks.
 */
import { Heap } from './heap.js';

export class FairQueue<T> {
  /** Tenants with queued entries, in turn order (a Map keeps insertion order: the next is first). */
  private readonly turns = new Map<string, Heap<T>>();
  private count = 0;

  /**
   * `live` says whether an entry still stands (the queue's owner voids entries instead of removing
   * them): void ones are dropped when met and cost no tenant its turn.
   */
  constructor(
    private readonly tenantOf: (item: T) => string,
    private readonly less: (a: T, b: T) => boolean,
    private readonly live: (item: T) => boolean = () => true,
  ) {}

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    const tenant = this.tenantOf(item);
    let heap = this.turns.get(tenant);
    if (!heap) {
      heap = new Heap<T>(this.less);
      this.turns.set(tenant, heap);
    }
    heap.push(item);
    this.count++;
  }

  /** The next entry of the tenant whose turn it is; that tenant goes to the back of the line. */
  pop(): T | undefined {
    for (;;) {
      const next = this.turns.entries().next();
      if (next.done) return undefined;
      const [tenant, heap] = next.value;
      let item = heap.pop();
      this.count--;
      while (item !== undefined && !this.live(item)) {
        item = heap.pop();
        if (item !== undefined) this.count--;
      }
      this.turns.delete(tenant);
      if (heap.size > 0) this.turns.set(tenant, heap);
      if (item !== undefined) return item;
    }
  }
}
