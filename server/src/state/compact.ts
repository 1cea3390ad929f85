/**
 * Per-task storage made small, for the scheduler to hold a million tasks.
 *
 * Sparse sets: most tasks never fill some of their sets (a task of a `map` has no dependents, no
 * waiters and, mostly, no gathers), and an empty Set costs about 185 bytes. Such fields start as
 * one shared empty set, which refuses additions; `grow` gives a task a set of its own when it
 * first needs one, `shrink` and `clear` hand the shared one back once its own is empty again. A
 * task's gathers are a SmallSet: nearly always one (~40 bytes, not a Set's ~150), and every task
 * of a gathered `map` has one until its result goes out.
 *
 * Small sets and maps: who holds a task's result and which clients want it are, nearly always,
 * one worker and one client. SmallSet and SmallMap keep one entry in fields of their own (~40
 * bytes) and make a real Set or Map only for a second.
 *
 * Bytes as strings: a task's arguments and a small result are kept one byte per character
 * (latin1). A short string costs ~24 bytes; a Uint8Array with a buffer of its own ~200.
 */
import type { TaskState } from './types.js';

/** `bytes` as a string of one character per byte (a copy: the bytes may be a view into a frame). */
export function bytesToString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The bytes a `bytesToString` string holds. */
export function stringToBytes(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}

/** A Set of objects (never `undefined`) that keeps a lone member without a Set; iterates a snapshot when it has one member. */
export class SmallSet<T extends object> implements Iterable<T> {
  private one: T | undefined = undefined;
  private many: Set<T> | undefined = undefined;

  get size(): number {
    return this.many ? this.many.size : this.one === undefined ? 0 : 1;
  }

  has(item: T): boolean {
    return this.many ? this.many.has(item) : this.one === item;
  }

  add(item: T): this {
    if (this.many) this.many.add(item);
    else if (this.one === undefined) this.one = item;
    else if (this.one !== item) {
      this.many = new Set([this.one, item]);
      this.one = undefined;
    }
    return this;
  }

  delete(item: T): boolean {
    if (this.many) return this.many.delete(item);
    if (this.one !== item) return false;
    this.one = undefined;
    return true;
  }

  clear(): void {
    this.one = undefined;
    this.many = undefined;
  }

  [Symbol.iterator](): Iterator<T> {
    if (this.many) return this.many[Symbol.iterator]();
    return (this.one === undefined ? [] : [this.one])[Symbol.iterator]();
  }
}

/** A Map with string keys that keeps a lone entry without a Map. */
export class SmallMap<V> implements Iterable<[string, V]> {
  private key: string | undefined = undefined;
  private value: V | undefined = undefined;
  private many: Map<string, V> | undefined = undefined;

  get size(): number {
    return this.many ? this.many.size : this.key === undefined ? 0 : 1;
  }

  has(key: string): boolean {
    return this.many ? this.many.has(key) : this.key === key;
  }

  get(key: string): V | undefined {
    if (this.many) return this.many.get(key);
    return this.key === key ? this.value : undefined;
  }

  set(key: string, value: V): this {
    if (this.many) this.many.set(key, value);
    else if (this.key === undefined || this.key === key) {
      this.key = key;
      this.value = value;
    } else {
      this.many = new Map([
        [this.key, this.value as V],
        [key, value],
      ]);
      this.key = undefined;
      this.value = undefined;
    }
    return this;
  }

  delete(key: string): boolean {
    if (this.many) return this.many.delete(key);
    if (this.key !== key) return false;
    this.key = undefined;
    this.value = undefined;
    return true;
  }

  clear(): void {
    this.key = undefined;
    this.value = undefined;
    this.many = undefined;
  }

  [Symbol.iterator](): Iterator<[string, V]> {
    if (this.many) return this.many[Symbol.iterator]();
    const entries: [string, V][] = this.key === undefined ? [] : [[this.key, this.value as V]];
    return entries[Symbol.iterator]();
  }
}

const SHARED = 'internal: an addition to the shared empty set (use grow)';

class SharedEmptySet<T> extends Set<T> {
  override add(): this {
    throw new Error(SHARED);
  }
}

class SharedEmptySmallSet<T extends object> extends SmallSet<T> {
  override add(): this {
    throw new Error(SHARED);
  }
}

const SHARED_EMPTY: Set<never> = new SharedEmptySet<never>();
const SHARED_EMPTY_SMALL: SmallSet<never> = new SharedEmptySmallSet<never>();

/** The shared empty set: what `dependents` and `waiters` hold until `grow`. */
export function emptySet<T>(): Set<T> {
  return SHARED_EMPTY;
}

/** The shared empty SmallSet: what `gathers` holds until `grow`. */
export function emptySmallSet<T extends object>(): SmallSet<T> {
  return SHARED_EMPTY_SMALL;
}

export type SparseField = 'dependents' | 'waiters' | 'gathers';

/** The shared empty set `field` holds while it has no members. */
const emptyOf = (field: SparseField): Set<never> | SmallSet<never> =>
  field === 'gathers' ? SHARED_EMPTY_SMALL : SHARED_EMPTY;

/** A task's sparse fields as the helpers below see them: each a set or a SmallSet. */
type SparseFields = Record<SparseField, { delete(item: never): boolean; readonly size: number }>;

/** `t[field]`, a set of its own (made now if it held the shared empty one), to add to. */
export function grow<F extends SparseField>(t: TaskState, field: F): TaskState[F] {
  const fields = t as unknown as SparseFields;
  if (fields[field] === SHARED_EMPTY) fields[field] = new Set<never>();
  else if (fields[field] === SHARED_EMPTY_SMALL) fields[field] = new SmallSet<never>();
  return t[field];
}

/** Deletes `item` from `t[field]`; an emptied set is swapped for the shared one. */
export function shrink<F extends SparseField>(
  t: TaskState,
  field: F,
  item: Parameters<TaskState[F]['delete']>[0],
): void {
  const fields = t as unknown as SparseFields;
  if (fields[field].delete(item as never) && fields[field].size === 0) fields[field] = emptyOf(field);
}

/** Empties `t[field]` (back to the shared empty set). */
export function clear(t: TaskState, field: SparseField): void {
  (t as unknown as SparseFields)[field] = emptyOf(field);
}

/** The shared sets are still empty (nothing slipped past `add`): for the invariant checks. */
export function sharedEmptyIsEmpty(): boolean {
  return SHARED_EMPTY.size === 0 && SHARED_EMPTY_SMALL.size === 0;
}
