import { test } from 'node:test';
import assert from 'node:assert/strict';
import { valueHash } from '@meshwork/protocol';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_BLAKE3_PACKAGE, nodeValueHash } from '../src/blake3.node.js';
import { arrivedDigests } from '../src/fetch.js';
import { TcpPeerFetcher, startDataServer } from '../src/node.js';
import { HASH_BATCH_BYTES, HASH_THREAD_MIN_BYTES, threadedValueHasher } from '../src/tcp/hash-thread.node.js';

function pattern(bytes: Uint8Array): Uint8Array {
  for (let i = 0; i < bytes.byteLength; i += 991) bytes[i] = (i >> 3) & 255;
  return bytes;
}

test('a body in shared memory is hashed on the hashing thread, in consecutive ranges of any size', async () => {
  const body = pattern(new Uint8Array(new SharedArrayBuffer(3 * HASH_BATCH_BYTES + 12_345), 0));
  const h = threadedValueHasher(body.byteLength);
  for (let at = 0, step = 1; at < body.byteLength; at += step, step = step * 3 + 7)
    h.update(body.subarray(at, Math.min(at + step, body.byteLength)));
  const digest = h.digest();
  assert.ok(digest instanceof Promise, 'the digest comes from the other thread');
  assert.equal(await digest, await valueHash(body));
  assert.throws(() => {
    const g = threadedValueHasher(body.byteLength);
    g.update(body.subarray(0, 10));
    g.update(body.subarray(20, 30));
  }, /consecutive/);
});

test('a body in plain memory, or a small one, is hashed where it arrives; an empty one hashes to the empty digest', async () => {
  const small = pattern(new Uint8Array(new SharedArrayBuffer(HASH_THREAD_MIN_BYTES - 1)));
  const s = threadedValueHasher(small.byteLength);
  s.update(small);
  assert.equal(s.digest(), await valueHash(small), 'a small shared body: no round trip to the thread');
  const body = pattern(new Uint8Array(1 << 20));
  const h = threadedValueHasher(body.byteLength);
  h.update(body.subarray(0, 1000));
  h.update(body.subarray(1000));
  assert.equal(h.digest(), await valueHash(body));
  assert.equal(threadedValueHasher(0).digest(), await valueHash(new Uint8Array(0)));
});

test('a worker fetching into shared memory hashes each value off its reading thread, and checks it', async () => {
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
    assert.ok(arrivedDigests.get(body) instanceof Promise, 'hashed on the hashing thread while it arrived');
    assert.equal(await arrivedDigests.get(body), hash);
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
    const { threadedValueHasher } = await import(${JSON.stringify(fileURLToPath(new URL('../src/tcp/hash-thread.node.ts', import.meta.url)))});
    const body = new Uint8Array(new SharedArrayBuffer(${2 * HASH_THREAD_MIN_BYTES})).map((_, i) => i % 251);
    const pieces = blake3Hasher(); pieces.update(body.subarray(0, 99)); pieces.update(body.subarray(99));
    const threaded = threadedValueHasher(body.byteLength); threaded.update(body);
    process.stdout.write(JSON.stringify([await nodeValueHash(body), await pieces.digest(), await threaded.digest()]));`;
  const dir = await mkdtemp(join(tmpdir(), 'no-native-'));
  try {
    await writeFile(join(dir, 'preload.cjs'), preload);
    const out = execFileSync(
      process.execPath,
      ['--require', join(dir, 'preload.cjs'), '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    const body = new Uint8Array(2 * HASH_THREAD_MIN_BYTES).map((_, i) => i % 251);
    const expected = await valueHash(body);
    assert.deepEqual(JSON.parse(out), [expected, expected, expected]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
