/**
 * What may travel as an argument or a result: what the structured-clone algorithm accepts,
 * checked before anything is encoded so that a bad value is refused with its path
 * (`args[1].cb: function`) instead of being silently dropped by the codec.
 */
import { FutureRef } from './codec.js';
import { SerializationError } from './errors.js';

/** Deepest nesting accepted in a value. */
export const MAX_VALUE_DEPTH = 1_000;

const allowedTags = new Set([
  '[object Date]',
  '[object RegExp]',
  '[object ArrayBuffer]',
  '[object DataView]',
  '[object Error]',
]);

/**
 * Throws SerializationError naming the path of the first value that cannot travel.
 * FutureRef instances (and subclasses, such as the client's Future) are accepted as leaves.
 */
export function checkSerialisable(value: unknown, path: string): void {
  walk(value, path, 0, new Set());
}

function refuse(path: string, what: string, hint: string): never {
  throw new SerializationError(`${path}: ${what} cannot be sent${hint ? ` (${hint})` : ''}`, path);
}

function walk(value: unknown, path: string, depth: number, seen: Set<object>): void {
  switch (typeof value) {
    case 'undefined':
    case 'boolean':
    case 'number':
    case 'string':
    case 'bigint':
      return;
    case 'symbol':
      return refuse(path, 'symbol', 'symbols do not survive structured cloning');
    case 'function':
      return refuse(path, 'function', 'pass functions as the task function, or upload a module');
    case 'object':
      break;
  }
  if (value === null || value instanceof FutureRef) return;
  if (depth > MAX_VALUE_DEPTH) return refuse(path, `nesting deeper than ${MAX_VALUE_DEPTH}`, '');
  const obj = value;
  if (seen.has(obj)) return refuse(path, 'cyclic reference', 'values must be trees');
  if (ArrayBuffer.isView(obj)) return;
  const tag = Object.prototype.toString.call(obj);
  if (allowedTags.has(tag)) return;
  seen.add(obj);
  if (Array.isArray(obj)) {
    obj.forEach((item, i) => walk(item, `${path}[${i}]`, depth + 1, seen));
  } else if (obj instanceof Map) {
    for (const [k, v] of obj) {
      walk(k, `${path}.<map key>`, depth + 1, seen);
      walk(v, `${path}.get(${describeKey(k)})`, depth + 1, seen);
    }
  } else if (obj instanceof Set) {
    let i = 0;
    for (const item of obj) walk(item, `${path}.<set item ${i++}>`, depth + 1, seen);
  } else {
    const proto: unknown = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const name = (obj.constructor as { name?: string } | undefined)?.name ?? 'anonymous class';
      return refuse(path, `instance of ${name}`, 'only plain objects, arrays, Map, Set, Date, RegExp, Error and binary data travel');
    }
    const symbols = Object.getOwnPropertySymbols(obj);
    if (symbols.length > 0) return refuse(`${path}[${String(symbols[0])}]`, 'symbol-keyed property', 'it would be dropped');
    for (const [k, v] of Object.entries(obj)) walk(v, `${path}.${k}`, depth + 1, seen);
  }
  seen.delete(obj);
}

function describeKey(k: unknown): string {
  if (typeof k === 'string') return JSON.stringify(k);
  if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return String(k);
  return `<${typeof k}>`;
}
