// The scheduler relay as a PeerTransport, runtime-free: two RelayTransports wired through a
// forwarding function that plays the scheduler (it counts what it carries, as the real one does).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionError, type WorkerChannel } from '@meshwork/protocol';
import {
  CHANNEL_HIGH_WATER_BYTES,
  FallbackTransport,
  RelayTransport,
  type PeerLink,
  type PeerTransport,
} from '../src/index.js';

function pair(): {
  a: RelayTransport;
  b: RelayTransport;
  carried: () => number;
  inFlight: () => number;
  maxInFlight: () => number;
} {
  let carried = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const ends: Record<string, RelayTransport> = {};
  const scheduler = (from: string) => (m: WorkerChannel.WorkerToServer) => {
    if (m.type !== 'relay') return;
    const out: WorkerChannel.RelayFrom = { type: 'relay', from };
    if (m.data) {
      carried += m.data.byteLength;
      inFlight += m.data.byteLength;
      maxInFlight = Math.max(maxInFlight, inFlight);
      out.data = m.data;
    }
    if (m.ack !== undefined) {
      inFlight -= m.ack;
      out.ack = m.ack;
    }
    if (m.close) out.close = true;
    const target = ends[m.to];
    // The scheduler's batches leave on a later turn.
    setImmediate(() => target?.deliver(out));
  };
  ends['a'] = new RelayTransport({ localId: 'a', post: scheduler('a') });
  ends['b'] = new RelayTransport({ localId: 'b', post: scheduler('b') });
  return {
    a: ends['a'],
    b: ends['b'],
    carried: () => carried,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
  };
}

test('values cross a relay link intact, with the sender held to the flow-control window', async () => {
  const { a, b, carried, maxInFlight } = pair();
  const value = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 7) & 255);
  b.serve({ lookup: (key, peer, path) => (key === 'v' && peer === 'a' && path === 'relay' ? value : undefined) });
  const link = await a.connect({ id: 'b' }, { signal: AbortSignal.timeout(10_000) });
  assert.equal(link.path, 'relay');
  const got = await link.getData(['v', 'nope'], { signal: AbortSignal.timeout(10_000) });
  assert.deepEqual(got.missing, ['nope']);
  assert.ok(Buffer.from(got.values.get('v') ?? []).equals(Buffer.from(value)));
  assert.ok(carried() > value.byteLength, 'every byte went through the forwarder');
  assert.ok(
    maxInFlight() <= CHANNEL_HIGH_WATER_BYTES + 2 * 256 * 1024,
    `at most a window in flight, saw ${maxInFlight()}`,
  );
  a.close();
  b.close();
});

test('closing one end closes the other; a relay to a worker that is gone fails at once', async () => {
  const { a, b } = pair();
  b.serve({ lookup: () => new Uint8Array(10) });
  const link = await a.connect({ id: 'b' }, { signal: AbortSignal.timeout(10_000) });
  await link.getData(['x'], { signal: AbortSignal.timeout(10_000) });
  assert.equal(b.size, 1);
  link.close();
  for (let i = 0; i < 20 && b.size > 0; i++) await new Promise((r) => setImmediate(r));
  assert.equal(b.size, 0, 'the remote end closed too');
  // The scheduler answers a relay to an unknown worker with `close`.
  const lonely = new RelayTransport({
    localId: 'a',
    post: (m) =>
      m.type === 'relay' && m.data && setImmediate(() => lonely.deliver({ type: 'relay', from: m.to, close: true })),
  });
  const dead = await lonely.connect({ id: 'gone' }, { signal: AbortSignal.timeout(10_000) });
  await assert.rejects(
    dead.getData(['x'], { signal: AbortSignal.timeout(10_000) }),
    (e: Error & { code?: string }) => e.code === 'CONNECTION',
  );
  a.close();
  b.close();
  lonely.close();
});

test('the fallback tries direct first, relays when it fails, and remembers the failure for a while', async () => {
  let directTries = 0;
  const fakeLink = { peerId: 'b', path: 'relay' } as PeerLink;
  const direct: PeerTransport = {
    connect: () => (directTries++, Promise.reject(new ConnectionError('ICE failed'))),
    serve: () => {},
    close: () => {},
  };
  let relayed = 0;
  const relay: PeerTransport = {
    connect: () => (relayed++, Promise.resolve(fakeLink)),
    serve: () => {},
    close: () => {},
  };
  const t = new FallbackTransport(direct, relay, { retryDirectMs: 60_000 });
  const signal = AbortSignal.timeout(1_000);
  assert.equal(await t.connect({ id: 'b' }, { signal }), fakeLink);
  assert.equal(await t.connect({ id: 'b' }, { signal }), fakeLink);
  assert.deepEqual([directTries, relayed], [1, 2], 'the second connect went straight to the relay');
  const soon = new FallbackTransport(direct, relay, { retryDirectMs: 0 });
  await soon.connect({ id: 'b' }, { signal });
  await soon.connect({ id: 'b' }, { signal });
  assert.equal(directTries, 3, 'with no memory, direct is tried each time');
});
