/**
 * The worker's data store: key → the value's encoded bytes. Values stay encoded, so peers are
 * served exactly the stored bytes and nothing is re-encoded; `bytes` is the total held.
 */
export class Store {
  private readonly values = new Map<string, Uint8Array>();
  /** Key → the value hash its bytes had when stored (computed here, checked on fetch, or announced for a put). */
  private readonly hashes = new Map<string, string>();
  private total = 0;

  /** `onDrop(bytes)`: a value left the store (a host may reclaim its memory: node/reclaim.ts). */
  constructor(private readonly onDrop?: (bytes: number) => void) {}

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.values.size;
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  get(key: string): Uint8Array | undefined {
    return this.values.get(key);
  }

  /** Stores `bytes` under `key`, with their value hash when known. */
  put(key: string, bytes: Uint8Array, hash?: string): void {
    this.delete(key);
    this.values.set(key, bytes);
    if (hash !== undefined) this.hashes.set(key, hash);
    this.total += bytes.byteLength;
  }

  /** The value hash of the bytes stored under `key`, when known. */
  hashOf(key: string): string | undefined {
    return this.hashes.get(key);
  }

  delete(key: string): boolean {
    const old = this.values.get(key);
    if (old === undefined) return false;
    this.values.delete(key);
    this.hashes.delete(key);
    this.total -= old.byteLength;
    this.onDrop?.(old.byteLength);
    return true;
  }

  keys(): IterableIterator<string> {
    return this.values.keys();
  }
}

/**
 * Dependencies fetched from peers for tasks waiting here, shared by reference count: they are
 * not in the store (the scheduler does not know this worker holds them) and go when the last
 * task that needs them ends.
 */
export class DepCache {
  private readonly entries = new Map<string, { bytes: Uint8Array; refs: number }>();
  private total = 0;

  /** `onDrop(bytes)`: a fetched value is no longer needed here. */
  constructor(private readonly onDrop?: (bytes: number) => void) {}

  get bytes(): number {
    return this.total;
  }

  peek(key: string): Uint8Array | undefined {
    return this.entries.get(key)?.bytes;
  }

  acquire(key: string, bytes: Uint8Array): void {
    const entry = this.entries.get(key);
    if (entry) {
      entry.refs++;
      return;
    }
    this.entries.set(key, { bytes, refs: 1 });
    this.total += bytes.byteLength;
  }

  release(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    if (--entry.refs > 0) return;
    this.entries.delete(key);
    this.total -= entry.bytes.byteLength;
    this.onDrop?.(entry.bytes.byteLength);
  }
}
