import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePeerFrame, valueHash } from '@meshwork/protocol';
import { arrivedDigests } from '../src/fetch.js';
import { StreamLink } from '../src/stream-link.js';
import { TcpPeerFetcher, startDataServer } from '../src/node.js';
import { NATIVE_BLAKE3_PACKAGE, blake3Hasher, nodeValueHash } from '../src/blake3.node.js';

function pattern(bytes: Uint8Array): Uint8Array {
  for (let i = 0; i < bytes.byteLength; i += 991) bytes[i] = (i >> 3) & 255;
  return bytes;
}

test('the native value hash agrees with the WebAssembly one, whole or in pieces of any size, in shared memory too', async () => {
  const body = pattern(new Uint8Array(new SharedArrayBuffer(9_000_123)));
  const expected = await valueHash(body);
  assert.equal(await nodeValueHash(body), expected);
  for (const size of [0, 1, 9, 1024, 1025, 65_537])
    assert.equal(await nodeValueHash(body.subarray(5, 5 + size)), await valueHash(body.slice(5, 5 + size)), `${size} bytes`);
  const h = blake3Hasher();
  for (let at = 0, step = 1; at < body.byteLength; at += step, step = step * 3 + 7)
    h.update(body.subarray(at, Math.min(at + step, body.byteLength)));
  assert.equal(h.digest(), expected, 'the native build answers at once');
  assert.equal(blake3Hasher().digest(), await valueHash(new Uint8Array(0)));
});

test('a link hashes each body exactly as it arrived, however the reads split the frames', async () => {
  let seed = 12345;
  const random = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let round = 0; round < 60; round++) {
    const frames = Array.from({ length: 1 + random(5) }, (_, id) => {
      const body = new Uint8Array(random(4) === 0 ? 0 : random(200_000)).map(() => random(256));
      return { header: { type: 'data', id, key: `k${id}`, nbytes: body.byteLength }, body };
    });
    const wire = Buffer.concat(frames.flatMap((f) => encodePeerFrame(f.header, f.body)));
    const link = new StreamLink(
      { write: () => true, end() {}, onDrain() {} },
      { hasher: blake3Hasher, allocate: (n) => new Uint8Array(new SharedArrayBuffer(n)) },
    );
    const got: Uint8Array[] = [];
    link.receive({ frame: (_, body) => got.push(body), closed() {} });
    // As a socket would: chunks of any size, and reads straight into the body being assembled.
    for (let at = 0; at < wire.byteLength;) {
      const n = 1 + random(Math.min(70_000, wire.byteLength - at));
      const window = link.bodyWindow();
      if (window && random(2) === 0) {
        const k = Math.min(n, window.byteLength);
        window.set(wire.subarray(at, at + k));
        link.filled(k);
        at += k;
      } else {
        link.push(wire.subarray(at, at + n));
        at += n;
      }
    }
    assert.equal(got.length, frames.length);
    for (const [i, body] of got.entries()) {
      const sent = (frames[i] as { body: Uint8Array }).body;
      assert.deepEqual(new Uint8Array(body), sent);
      if (sent.byteLength > 0)
        assert.equal(arrivedDigests.get(body), await valueHash(sent), `round ${round}, frame ${i}`);
    }
  }
});

test('a worker fetching into shared memory hashes each value as it arrives, and checks it', async () => {
  const value = pattern(new Uint8Array(10e6));
  const server = await startDataServer({ host: '127.0.0.1', lookup: (k) => (k === 'v' ? value : undefined) });
  const hash = await valueHash(value);
  const fetcher = new TcpPeerFetcher({
    from: 'shared',
    allocate: (n) => new Uint8Array(new SharedArrayBuffer(n)),
    digest: nodeValueHash,
  });
  try {
    const expect = new Map([['v', { nbytes: value.byteLength, hash }]]);
    const got = await fetcher.fetch([{ id: 'w', address: server.address }], ['v'], {
      signal: AbortSignal.timeout(30_000),
      expect,
    });
    const body = got.values.get('v') as Uint8Array;
    assert.ok(body.buffer instanceof SharedArrayBuffer);
    assert.equal(arrivedDigests.get(body), hash, 'hashed while it arrived');
    const wrong = new Map([['v', { nbytes: value.byteLength, hash: 'cd'.repeat(32) }]]);
    const refused = await fetcher.fetch([{ id: 'w', address: server.address }], ['v'], {
      signal: AbortSignal.timeout(30_000),
      expect: wrong,
    });
    assert.equal(refused.values.size, 0, 'bytes that do not match the hash are refused');
  } finally {
    fetcher.close();
    await server.close();
  }
});

test('where the native BLAKE3 cannot load, values are hashed with the WebAssembly build: same digests', async () => {
  // A child process in which requiring the native package fails, as on a platform it has no binary for.
  const preload = `const M = require('node:module'); const resolve = M._resolveFilename;
    M._resolveFilename = function (request, ...rest) {
      if (request === ${JSON.stringify(NATIVE_BLAKE3_PACKAGE)}) throw new Error('no binary for this platform');
      return resolve.call(this, request, ...rest);
    };`;
  const script = `
    const { nodeValueHash, blake3Hasher } = await import(${JSON.stringify(fileURLToPath(new URL('../src/blake3.node.ts', import.meta.url)))});
    const body = new Uint8Array(new SharedArrayBuffer(2_000_000)).map((_, i) => i % 251);
    const pieces = blake3Hasher(); pieces.update(body.subarray(0, 99)); pieces.update(body.subarray(99));
    process.stdout.write(JSON.stringify([await nodeValueHash(body), await pieces.digest()]));`;
  const dir = await mkdtemp(join(tmpdir(), 'no-native-'));
  try {
    await writeFile(join(dir, 'preload.cjs'), preload);
    const out = execFileSync(
      process.execPath,
      ['--require', join(dir, 'preload.cjs'), '--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
      },
    );
    const expected = await valueHash(new Uint8Array(2_000_000).map((_, i) => i % 251));
    assert.deepEqual(JSON.parse(out), [expected, expected]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a digest that fails while nobody asks for it is no unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    const failing = (): { update(): void; digest(): Promise<string> } => ({
      update() {},
      digest: () => Promise.reject(new Error('the hash failed')),
    });
    const link = new StreamLink({ write: () => true, end() {}, onDrain() {} }, { hasher: failing });
    const got: Uint8Array[] = [];
    link.receive({ frame: (_, body) => got.push(body), closed() {} });
    for (const chunk of encodePeerFrame({ type: 'data', id: 1, key: 'k', nbytes: 3 }, new Uint8Array([1, 2, 3])))
      link.push(chunk);
    assert.equal(got.length, 1);
    await new Promise((r) => setTimeout(r, 50)); // past the turn where Node reports rejections
    assert.deepEqual(unhandled, []);
    // Whoever does ask still sees the failure.
    await assert.rejects(arrivedDigests.get(got[0] as Uint8Array) as Promise<string>, /the hash failed/);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
