/**
 * The one binary codec of meshwork (msgpackr; see docs/codec.md for the measurement).
 *
 * - Stateless: every frame carries its own record definitions, so any decoder reads any frame.
 * - Typed arrays and ArrayBuffers travel as raw bytes; Map, Set, Date, bigint, RegExp round-trip.
 * - A `FutureRef` inside a value marks a dependency: `encodeValue` reports the keys it met,
 *   `decodeValue` swaps each ref for the dependency's value.
 */
import { Packr, Unpackr, addExtension } from 'msgpackr';

const options = { useRecords: true, mapsAsObjects: false, moreTypes: true, int64AsType: 'bigint' } as const;

/** A reference to the result of another task, standing where that result will go. */
export class FutureRef {
  constructor(readonly key: string) {}
}

// Ext type 0x01 is ours: a FutureRef, written as its key. Encoding is synchronous, so the
// keys met during one `encodeValue` call are collected in a module-level slot.
let collecting: Set<string> | null = null;
let resolving: ((key: string) => unknown) | null = null;
addExtension({
  Class: FutureRef,
  type: 0x01,
  write(ref: FutureRef) {
    collecting?.add(ref.key);
    return ref.key;
  },
  read(key: string) {
    return resolving ? resolving(key) : new FutureRef(key);
  },
});

const packr = new Packr(options);
const unpackr = new Unpackr(options);
/** Values decode into memory of their own: never views into the bytes (which may be shared). */
const valueUnpackr = new Unpackr({ ...options, copyBuffers: true });

/** Encodes a message or value. The result is a fresh buffer owned by the caller. */
export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes one encoded buffer. Binary fields are views into `bytes`, not copies. */
export function decode(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

/** Encodes a value, returning the keys of every FutureRef inside it. */
export function encodeValue(value: unknown): { bytes: Uint8Array; refs: string[] } {
  const refs = new Set<string>();
  collecting = refs;
  try {
    return { bytes: packr.pack(value), refs: [...refs] };
  } finally {
    collecting = null;
  }
}

/** Decodes a value, putting `resolve(key)` wherever a FutureRef stood. */
export function decodeValue(bytes: Uint8Array, resolve?: (key: string) => unknown): unknown {
  resolving = resolve ?? null;
  try {
    return valueUnpackr.unpack(bytes);
  } finally {
    resolving = null;
  }
}
