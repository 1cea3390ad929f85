import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FutureRef, OUT_OF_LINE_MIN_BYTES, decode, decodeValue, encode, encodeValue } from '@meshwork/protocol';

const big = OUT_OF_LINE_MIN_BYTES / 8 + 3;
const shared = (n: number): Uint8Array => new Uint8Array(new SharedArrayBuffer(n));

test('values with large binaries round-trip, small and large, every kind, beside futures', () => {
  const value = [
    new Float64Array(big).map((_, i) => i * 1.5),
    { small: new Uint8Array([1, 2, 3]), i16: new Int16Array(big).fill(-3) },
    new Map([[1, new BigInt64Array(big).fill(-5n)]]),
    new ArrayBuffer(OUT_OF_LINE_MIN_BYTES + 1),
    new DataView(new ArrayBuffer(OUT_OF_LINE_MIN_BYTES)),
    new Float32Array(new ArrayBuffer(OUT_OF_LINE_MIN_BYTES * 2), 4, big), // a view at an offset
    new FutureRef('dep-1'),
    'text',
  ];
  const { bytes, refs } = encodeValue(value);
  assert.deepEqual(refs, ['dep-1']);
  const out = decodeValue(bytes, (key) => `value of ${key}`) as unknown[];
  assert.deepEqual(out.slice(0, 6), value.slice(0, 6));
  assert.equal(out[6], 'value of dep-1');
  assert.equal(out[7], 'text');
});

test('encoding into given memory writes there; decoding from shared memory gives values of their own', () => {
  const a = new Float64Array(big).fill(2.5);
  const { bytes } = encodeValue({ a }, shared);
  assert.ok(bytes.buffer instanceof SharedArrayBuffer);
  const out = decodeValue(bytes) as { a: Float64Array };
  assert.ok(out.a.buffer instanceof ArrayBuffer);
  out.a[0] = 99;
  assert.equal((decodeValue(bytes) as { a: Float64Array }).a[0], 2.5);
  const small = encodeValue([1, new Uint8Array(4)], shared).bytes;
  assert.ok(small.buffer instanceof SharedArrayBuffer);
  assert.deepEqual(decodeValue(small), [1, new Uint8Array(4)]);
});

test('with `views`, large typed arrays and DataViews are views of the bytes; ArrayBuffers, small binaries and misaligned ones are copies', () => {
  const value = {
    f: new Float64Array(big).fill(2.5),
    d: new DataView(new ArrayBuffer(OUT_OF_LINE_MIN_BYTES)),
    b: new ArrayBuffer(OUT_OF_LINE_MIN_BYTES),
    s: new Uint8Array(4),
  };
  const { bytes } = encodeValue(value, shared);
  const out = decodeValue(bytes, undefined, { views: true }) as typeof value;
  assert.equal(out.f.buffer, bytes.buffer, 'the Float64Array is a view of the value bytes');
  assert.equal(out.f.byteOffset % 8, 0);
  assert.equal(out.d.buffer, bytes.buffer);
  assert.ok(out.b instanceof ArrayBuffer && out.b !== bytes.buffer);
  assert.notEqual(out.s.buffer, bytes.buffer);
  assert.deepEqual(out, decodeValue(bytes));
  out.f[0] = 99; // a reader that mutates its view changes the value itself
  assert.equal((decodeValue(bytes) as typeof value).f[0], 99);
  // The same bytes one off an 8-byte boundary: a Float64Array cannot view them, so it is a copy.
  const off = new Uint8Array(bytes.byteLength + 1);
  off.set(bytes, 1);
  const moved = decodeValue(off.subarray(1), undefined, { views: true }) as typeof value;
  assert.notEqual(moved.f.buffer, off.buffer);
  assert.equal(moved.f[0], 99);
  assert.equal(moved.d.buffer, off.buffer, 'a DataView views any offset');
});

test('a truncated value with large binaries fails to decode instead of reading past its end', () => {
  const { bytes } = encodeValue([new Uint8Array(OUT_OF_LINE_MIN_BYTES)]);
  assert.throws(() => decodeValue(bytes.subarray(0, bytes.byteLength - 1)));
  assert.throws(() => decodeValue(bytes.subarray(0, 4)));
});

// msgpackr compiles a reader (`new Function`) for a record shape met 4 or more times in one
// message. The pages bundle its build without eval (their CSP forbids it); Node keeps the faster one.
test('in Node, many records of one shape decode through a compiled reader', () => {
  const compiled: string[] = [];
  const original = globalThis.Function;
  globalThis.Function = new Proxy(original, {
    construct(target, args: string[]) {
      compiled.push(args.join(' '));
      return Reflect.construct(target, args);
    },
  });
  const rows = Array.from({ length: 6 }, (_, i) => ({ compiledReaderRow: i, label: `r${i}` }));
  try {
    assert.deepEqual(decode(encode(rows)), rows);
    assert.deepEqual(decodeValue(encodeValue(rows).bytes), rows);
  } finally {
    globalThis.Function = original;
  }
  assert.equal(compiled.filter((body) => body.includes('compiledReaderRow')).length, 2);
});
