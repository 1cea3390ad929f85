/**
 * The one binary codec of meshwork (msgpackr; see docs/codec.md for the measurement).
 *
 * - Stateless: every frame carries its own record definitions, so any decoder reads any frame.
 * - Typed arrays and ArrayBuffers travel as raw bytes; Map, Set, Date, bigint, RegExp round-trip.
 * - A `FutureRef` inside a value marks a dependency: `encodeValue` reports the keys it met,
 *   `decodeValue` swaps each ref for the dependency's value.
 * - Values holding binary data of OUT_OF_LINE_MIN_BYTES or more are laid out as a MessagePack
 *   skeleton followed by the raw bytes of each large binary (see `encodeValue`): the bytes are
 *   copied once, straight into the caller's memory, instead of into the codec's growing buffer
 *   and then again into the caller's.
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

/** Binary data (typed arrays, ArrayBuffer, DataView) this large or larger is laid out after the skeleton, in bytes. */
export const OUT_OF_LINE_MIN_BYTES = 64 * 1024;
/** First byte of a value with out-of-line binaries: 0xc1 never starts a MessagePack item. */
const OUT_OF_LINE_MAGIC = 0xc1;
/** magic, 3 zero bytes, u32 LE skeleton length: keeps the skeleton and the blob region 8-byte aligned. */
const OUT_OF_LINE_PREFIX_BYTES = 8;
/** Ext type 0x02 is ours: one out-of-line binary, as [kind u8][offset in the blob region u32][byteLength u32] (LE). */
const BLOB_EXT = 0x02;
const BLOB_EXT_DATA_BYTES = 9;

/** Binary kinds, by code: msgpackr's typed-array codes, then ArrayBuffer (16) and DataView (17). */
const typedArrayKinds = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;
const ARRAY_BUFFER_KIND = 16;
const DATA_VIEW_KIND = 17;

/** The large binaries met by the current `encodeValue`, and where each goes in the blob region. */
let blobs: { bytes: Uint8Array; offset: number }[] | null = null;
let blobRegionBytes = 0;
/** The blob region of the value the current `decodeValue` reads. */
let blobRegion: Uint8Array | null = null;
/** The current `decodeValue` hands out views of out-of-line binaries instead of copies. */
let viewing = false;

const align8 = (n: number): number => (n + 7) & ~7;

/** Kind code by exact constructor: a lookup, since every binary field of every control message passes here. */
const kindByClass = new Map<unknown, number>([
  ...typedArrayKinds.map((k, i) => [k, i] as const),
  [ArrayBuffer, ARRAY_BUFFER_KIND],
  [DataView, DATA_VIEW_KIND],
]);

function kindOf(value: ArrayBufferView | ArrayBuffer): number {
  return kindByClass.get(value.constructor) ?? -1;
}

// Exact instances of the standard binary types only (a Node Buffer keeps msgpackr's own `bin`).
function packBinary(
  value: ArrayBufferView | ArrayBuffer,
  allocateForWrite: (n: number) => { target: Uint8Array; position: number },
): void {
  const kind = kindOf(value);
  const bytes =
    value instanceof ArrayBuffer
      ? new Uint8Array(value)
      : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (blobs && kind >= 0 && bytes.byteLength >= OUT_OF_LINE_MIN_BYTES) {
    const offset = blobRegionBytes;
    blobs.push({ bytes, offset });
    blobRegionBytes = align8(offset + bytes.byteLength);
    const { target, position } = allocateForWrite(3 + BLOB_EXT_DATA_BYTES);
    const view = new DataView(target.buffer, target.byteOffset + position, 3 + BLOB_EXT_DATA_BYTES);
    view.setUint8(0, 0xc7); // ext 8
    view.setUint8(1, BLOB_EXT_DATA_BYTES);
    view.setUint8(2, BLOB_EXT);
    view.setUint8(3, kind);
    view.setUint32(4, offset, true);
    view.setUint32(8, bytes.byteLength, true);
    return;
  }
  if (kind < 0) return writeBin(bytes, allocateForWrite); // a Buffer or another subclass: msgpackr's `bin`
  // msgpackr's own typed-array extension (0x74), as `moreTypes` writes it.
  const length = bytes.byteLength + 1;
  const head = length < 0x100 ? 3 : length < 0x10000 ? 4 : 6;
  const { target, position } = allocateForWrite(head + length);
  const view = new DataView(target.buffer, target.byteOffset + position, head + 1);
  if (head === 3) {
    view.setUint8(0, 0xc7);
    view.setUint8(1, length);
  } else if (head === 4) {
    view.setUint8(0, 0xc8);
    view.setUint16(1, length);
  } else {
    view.setUint8(0, 0xc9);
    view.setUint32(1, length);
  }
  view.setUint8(head - 1, 0x74);
  view.setUint8(head, kind);
  target.set(bytes, position + head + 1);
}

function writeBin(bytes: Uint8Array, allocateForWrite: (n: number) => { target: Uint8Array; position: number }): void {
  const n = bytes.byteLength;
  const head = n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  const { target, position } = allocateForWrite(head + n);
  const view = new DataView(target.buffer, target.byteOffset + position, head);
  if (head === 2) view.setUint8(1, n);
  else if (head === 3) view.setUint16(1, n);
  else view.setUint32(1, n);
  view.setUint8(0, head === 2 ? 0xc4 : head === 3 ? 0xc5 : 0xc6);
  target.set(bytes, position + head);
}

function readBlob(data: Uint8Array): unknown {
  if (!blobRegion || data.byteLength !== BLOB_EXT_DATA_BYTES)
    throw new Error('an out-of-line binary outside a value that has them');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const kind = view.getUint8(0);
  const offset = view.getUint32(1, true);
  const length = view.getUint32(5, true);
  if (offset + length > blobRegion.byteLength) throw new Error('an out-of-line binary past the end of its value');
  const at = blobRegion.subarray(offset, offset + length);
  const Kind = typedArrayKinds[kind];
  if (viewing) {
    // A view of the value's own bytes (see `decodeValue`); an ArrayBuffer cannot be one, and an
    // element type the offset does not align with falls back to a copy.
    if (kind === DATA_VIEW_KIND) return new DataView(at.buffer, at.byteOffset, length);
    if (Kind && at.byteOffset % Kind.BYTES_PER_ELEMENT === 0 && length % Kind.BYTES_PER_ELEMENT === 0)
      return new Kind(at.buffer as ArrayBuffer, at.byteOffset, length / Kind.BYTES_PER_ELEMENT);
  }
  const own = new Uint8Array(length);
  own.set(at);
  if (kind === ARRAY_BUFFER_KIND) return own.buffer;
  if (kind === DATA_VIEW_KIND) return new DataView(own.buffer);
  if (!Kind) throw new Error(`unknown binary kind ${kind}`);
  return new Kind(own.buffer);
}

const TypedArray = Object.getPrototypeOf(Uint8Array) as new () => ArrayBufferView;
for (const Class of [TypedArray, ArrayBuffer, DataView]) {
  addExtension({ Class, type: BLOB_EXT, pack: packBinary as never, unpack: readBlob });
}

const packr = new Packr(options);
const unpackr = new Unpackr(options);
/** Binaries under OUT_OF_LINE_MIN_BYTES decode into memory of their own: never views into the bytes. */
const valueUnpackr = new Unpackr({ ...options, copyBuffers: true });

/** Encodes a message or value. The result is a fresh buffer owned by the caller. */
export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes one encoded buffer. Binary fields are views into `bytes`, not copies. */
export function decode(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

/**
 * Encodes a value, returning the keys of every FutureRef inside it. With `allocate`, the bytes
 * are written into memory it returns (e.g. shared memory); without, they may share the codec's
 * buffer with later encodings, unless the value has out-of-line binaries.
 *
 * A value with binaries of OUT_OF_LINE_MIN_BYTES or more is `[0xc1][0 0 0][u32 LE skeleton
 * length][skeleton, padded to 8][each binary's bytes, each padded to 8]`, the skeleton being the
 * MessagePack of the value with each such binary replaced by an ext 0x02 naming its place.
 */
export function encodeValue(
  value: unknown,
  allocate?: (bytes: number) => Uint8Array,
): { bytes: Uint8Array; refs: string[] } {
  const refs = new Set<string>();
  collecting = refs;
  const met: { bytes: Uint8Array; offset: number }[] = [];
  blobs = met;
  blobRegionBytes = 0;
  let skeleton: Uint8Array;
  let regionBytes: number;
  try {
    skeleton = packr.pack(value);
    regionBytes = blobRegionBytes;
  } finally {
    collecting = null;
    blobs = null;
  }
  if (met.length === 0) {
    if (!allocate) return { bytes: skeleton, refs: [...refs] };
    const bytes = allocate(skeleton.byteLength);
    bytes.set(skeleton);
    return { bytes, refs: [...refs] };
  }
  const regionStart = align8(OUT_OF_LINE_PREFIX_BYTES + skeleton.byteLength);
  const bytes = allocate ? allocate(regionStart + regionBytes) : new Uint8Array(regionStart + regionBytes);
  bytes[0] = OUT_OF_LINE_MAGIC;
  new DataView(bytes.buffer, bytes.byteOffset, OUT_OF_LINE_PREFIX_BYTES).setUint32(4, skeleton.byteLength, true);
  bytes.set(skeleton, OUT_OF_LINE_PREFIX_BYTES);
  for (const b of met) bytes.set(b.bytes, regionStart + b.offset);
  return { bytes, refs: [...refs] };
}

export interface DecodeValueOptions {
  /**
   * Typed arrays and DataViews laid out of line (OUT_OF_LINE_MIN_BYTES or more) come back as views
   * of `bytes` rather than copies, so they live as long as and change with `bytes`; ArrayBuffers
   * and smaller binaries are still copies. For callers that own `bytes` or whose readers do not
   * mutate what they get (tasks read their inputs this way: README, "Tasks do not mutate their
   * inputs"). Default false.
   */
  views?: boolean;
}

/** Decodes a value, putting `resolve(key)` wherever a FutureRef stood. Binaries are copies unless `views`. */
export function decodeValue(bytes: Uint8Array, resolve?: (key: string) => unknown, options: DecodeValueOptions = {}): unknown {
  // A `resolve` may decode another value: restore the outer call's slots afterwards.
  const outer = { resolving, blobRegion, viewing };
  resolving = resolve ?? null;
  viewing = options.views === true;
  try {
    if (bytes[0] !== OUT_OF_LINE_MAGIC) return valueUnpackr.unpack(bytes);
    if (bytes.byteLength < OUT_OF_LINE_PREFIX_BYTES) throw new Error('a value cut short');
    const skeletonBytes = new DataView(bytes.buffer, bytes.byteOffset, OUT_OF_LINE_PREFIX_BYTES).getUint32(4, true);
    const regionStart = align8(OUT_OF_LINE_PREFIX_BYTES + skeletonBytes);
    if (regionStart > bytes.byteLength) throw new Error('a value cut short');
    blobRegion = bytes.subarray(regionStart);
    return valueUnpackr.unpack(bytes.subarray(OUT_OF_LINE_PREFIX_BYTES, OUT_OF_LINE_PREFIX_BYTES + skeletonBytes));
  } finally {
    ({ resolving, blobRegion, viewing } = outer);
  }
}
