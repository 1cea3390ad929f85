import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { arrivedDigests } from '../src/fetch.js';
import { TcpPeerFetcher, startDataServer } from '../src/node.js';
import { HASH_BATCH_BYTES, HASH_THREAD_MIN_BYTES, threadedSha256Hasher } from '../src/tcp/hash-thread.node.js';

function pattern(bytes: Uint8Array): Uint8Array {
  for (let i = 0; i < bytes.byteLength; i += 991) bytes[i] = (i >> 3) & 255;
  return bytes;
}

test('a body in shared memory is hashed on the hashing thread, in consecutive ranges of any size', async () => {
  const body = pattern(new Uint8Array(new SharedArrayBuffer(3 * HASH_BATCH_BYTES + 12_345), 0));
  const h = threadedSha256Hasher(body.byteLength);
  for (let at = 0, step = 1; at < body.byteLength; at += step, step = step * 3 + 7)
    h.update(body.subarray(at, Math.min(at + step, body.byteLength)));
  const digest = h.digest();
  assert.ok(digest instanceof Promise, 'the digest comes from the other thread');
  assert.equal(await digest, createHash('sha256').update(body).digest('hex'));
  assert.throws(() => {
    const g = threadedSha256Hasher(body.byteLength);
    g.update(body.subarray(0, 10));
    g.update(body.subarray(20, 30));
  }, /consecutive/);
});

test('a body in plain memory, or a small one, is hashed where it arrives; an empty one hashes to the empty digest', () => {
  const small = pattern(new Uint8Array(new SharedArrayBuffer(HASH_THREAD_MIN_BYTES - 1)));
  const s = threadedSha256Hasher(small.byteLength);
  s.update(small);
  assert.equal(
    s.digest(),
    createHash('sha256').update(small).digest('hex'),
    'a small shared body: no round trip to the thread',
  );
  const body = pattern(new Uint8Array(1 << 20));
  const h = threadedSha256Hasher(body.byteLength);
  h.update(body.subarray(0, 1000));
  h.update(body.subarray(1000));
  assert.equal(h.digest(), createHash('sha256').update(body).digest('hex'));
  assert.equal(threadedSha256Hasher(0).digest(), createHash('sha256').digest('hex'));
});

test('a worker fetching into shared memory hashes each value off its reading thread, and checks it', async () => {
  const value = pattern(new Uint8Array(10e6));
  const server = await startDataServer({ host: '127.0.0.1', lookup: (k) => (k === 'v' ? value : undefined) });
  const hash = createHash('sha256').update(value).digest('hex');
  const fetcher = new TcpPeerFetcher({
    from: 'shared',
    allocate: (n) => new Uint8Array(new SharedArrayBuffer(n)),
    digest: async (bytes) => createHash('sha256').update(bytes).digest('hex'),
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
