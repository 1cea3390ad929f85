import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerFrameError, PeerFrameReader, encodePeerFrame, type PeerFrame } from '@meshwork/protocol';

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const frames: { header: unknown; body: Uint8Array }[] = [
  { header: { type: 'hello', protocolVersion: 1, from: 'w1' }, body: new Uint8Array(0) },
  { header: { type: 'data', id: 7, key: 'inc-abc', nbytes: 300 }, body: pattern(300, 1) },
  { header: { type: 'data-missing', id: 7, key: 'x' }, body: new Uint8Array(0) },
  { header: { type: 'data', id: 8, key: 'y', nbytes: 1 }, body: pattern(1, 2) },
];
const stream = concat(frames.flatMap((f) => encodePeerFrame(f.header, f.body)));

function check(got: PeerFrame[]): void {
  assert.equal(got.length, frames.length);
  got.forEach((f, i) => {
    assert.deepEqual(f.header, frames[i]?.header);
    assert.deepEqual([...f.body], [...(frames[i]?.body ?? [])]);
  });
}

test('reader: every frame comes out whole when the stream is split at any one byte boundary', () => {
  for (let cut = 0; cut <= stream.byteLength; cut++) {
    const r = new PeerFrameReader();
    check([...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))]);
  }
});

test('reader: split at every pair of boundaries', () => {
  for (let a = 0; a <= stream.byteLength; a += 3) {
    for (let b = a; b <= stream.byteLength; b += 5) {
      const r = new PeerFrameReader();
      check([...r.push(stream.subarray(0, a)), ...r.push(stream.subarray(a, b)), ...r.push(stream.subarray(b))]);
    }
  }
});

test('reader: one byte at a time', () => {
  const r = new PeerFrameReader();
  const got: PeerFrame[] = [];
  for (let i = 0; i < stream.byteLength; i++) got.push(...r.push(stream.subarray(i, i + 1)));
  check(got);
});

test('reader: a 64 MiB body in uneven chunks arrives intact, followed by another frame in the same chunk', () => {
  const big = pattern(64 * 2 ** 20, 9);
  const bytes = concat([...encodePeerFrame({ type: 'data', id: 1, key: 'big', nbytes: big.byteLength }, big), ...encodePeerFrame({ type: 'data-missing', id: 2, key: 'z' })]);
  const r = new PeerFrameReader();
  const got: PeerFrame[] = [];
  let at = 0;
  let size = 1;
  while (at < bytes.byteLength) {
    got.push(...r.push(bytes.subarray(at, at + size)));
    at += size;
    size = (size * 7 + 13) % 1_000_003;
  }
  assert.equal(got.length, 2);
  assert.equal(got[0]?.body.byteLength, big.byteLength);
  assert.ok(Buffer.from(got[0]?.body ?? []).equals(Buffer.from(big)));
  assert.deepEqual(got[1]?.header, { type: 'data-missing', id: 2, key: 'z' });
});

test('reader: a broken prefix throws PeerFrameError', () => {
  const r = new PeerFrameReader();
  assert.throws(() => r.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])), PeerFrameError);
  const r2 = new PeerFrameReader();
  assert.throws(() => r2.push(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0])), PeerFrameError);
});

test('a body can be read straight into its own memory: bodyWindow() then filled(n)', () => {
  const body = new Uint8Array(100_000).map((_, i) => i & 255);
  const [prefix] = encodePeerFrame({ type: 'data', id: 1, key: 'k', nbytes: body.byteLength }, body);
  const reader = new PeerFrameReader();
  assert.equal(reader.bodyWindow(), undefined, 'no body before its header');
  // The header and the first 10 bytes of the body arrive together: those go through push.
  assert.deepEqual(reader.push(new Uint8Array([...(prefix as Uint8Array), ...body.subarray(0, 10)])), []);
  let at = 10;
  while (at < body.byteLength) {
    const window = reader.bodyWindow();
    assert.ok(window, 'then the rest is read in place');
    assert.equal(window.byteLength, body.byteLength - at);
    const n = Math.min(30_000, window.byteLength);
    window.set(body.subarray(at, at + n));
    at += n;
    const frames = reader.filled(n);
    if (at < body.byteLength) assert.deepEqual(frames, []);
    else {
      assert.equal(frames.length, 1);
      assert.deepEqual(frames[0]?.body, body);
      assert.deepEqual(frames[0]?.header, { type: 'data', id: 1, key: 'k', nbytes: body.byteLength });
    }
  }
  assert.equal(reader.bodyWindow(), undefined);
  assert.throws(() => reader.filled(1), /outside the body window/);
});
