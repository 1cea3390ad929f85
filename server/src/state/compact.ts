/**
 * Per-task storage made small, for the scheduler to hold a million tasks.
 *
 * Sparse sets: most tasks never fill some of their sets (a task of a `map` has no dependents, no
 * waiters and, mostly, no gathers), and an empty Set costs about 185 bytes. Such fields start as
 * one shared empty set, which refuses additions; `grow` gives a task a set of its own when it
 * first needs one, `shrink` and `clear` hand the shared one back once its own is empty again.
 *
 * Bytes as strings: a task's arguments and a small result are kept one byte per character
 * (latin1). A short string costs ~24 bytes; a Uint8Array with a buffer of its own ~200.
 */
import type { TaskState } from './types.js';

class SharedEmptySet<T> extends Set<T> {
  override add(): this {
    throw new Error('internal: an addition to the shared empty set (use grow)');
  }
}

const SHARED_EMPTY: Set<never> = new SharedEmptySet<never>();

/** The shared empty set: what a sparse field holds until `grow`. */
export function emptySet<T>(): Set<T> {
  return SHARED_EMPTY;
}

export type SparseField = 'dependents' | 'waiters' | 'gathers';

/** `t[field]`, a set of its own (made now if it held the shared empty one), to add to. */
export function grow<F extends SparseField>(t: TaskState, field: F): TaskState[F] {
  if (t[field] === SHARED_EMPTY) t[field] = new Set() as TaskState[F];
  return t[field];
}

/** Deletes `item` from `t[field]`; an emptied set is swapped for the shared one. */
export function shrink<F extends SparseField>(
  t: TaskState,
  field: F,
  item: Parameters<TaskState[F]['delete']>[0],
): void {
  const s = t[field] as Set<unknown>;
  if (s.delete(item) && s.size === 0) t[field] = SHARED_EMPTY;
}

/** Empties `t[field]` (back to the shared empty set). */
export function clear(t: TaskState, field: SparseField): void {
  t[field] = SHARED_EMPTY;
}

/** The shared set is still empty (nothing slipped past `add`): for the invariant checks. */
export function sharedEmptyIsEmpty(): boolean {
  return SHARED_EMPTY.size === 0;
}

/** `bytes` as a string of one character per byte (a copy: the bytes may be a view into a frame). */
export function bytesToString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/** The bytes a `bytesToString` string holds. */
export function stringToBytes(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}
