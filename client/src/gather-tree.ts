/**
 * `gather`'s walk: futures inside arrays and plain objects (to any depth) are replaced by their
 * values; everything else (Map, Set, typed arrays, class instances, primitives) passes through.
 */
import { Future } from './future.js';

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Every future inside `value`, in traversal order (a future seen twice is listed twice). */
export function collectFutures(
  value: unknown,
  out: Future<unknown>[] = [],
  seen = new Set<object>(),
): Future<unknown>[] {
  if (value instanceof Future) {
    out.push(value);
    return out;
  }
  if (typeof value !== 'object' || value === null || seen.has(value)) return out;
  if (Array.isArray(value)) {
    seen.add(value);
    for (const item of value) collectFutures(item, out, seen);
    seen.delete(value);
  } else if (isPlainObject(value)) {
    seen.add(value);
    for (const item of Object.values(value)) collectFutures(item, out, seen);
    seen.delete(value);
  }
  return out;
}

/** A copy of `value` (arrays and plain objects copied) with each future replaced by `valueOf(future)`. */
export function replaceFutures(
  value: unknown,
  valueOf: (future: Future<unknown>) => unknown,
  seen = new Set<object>(),
): unknown {
  if (value instanceof Future) return valueOf(value);
  if (typeof value !== 'object' || value === null || seen.has(value)) return value;
  if (Array.isArray(value)) {
    seen.add(value);
    const out = value.map((item) => replaceFutures(item, valueOf, seen));
    seen.delete(value);
    return out;
  }
  if (!isPlainObject(value)) return value;
  seen.add(value);
  const out: Record<string, unknown> = Object.create(Object.getPrototypeOf(value) as object | null) as Record<
    string,
    unknown
  >;
  for (const [k, v] of Object.entries(value)) out[k] = replaceFutures(v, valueOf, seen);
  seen.delete(value);
  return out;
}
