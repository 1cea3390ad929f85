import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PROTOCOL_VERSION } from '@meshwork/protocol';
import { ChannelStream } from '../src/webrtc/channel-stream.js';
import { nodeRtcPeerConnection, shutdownNodeRtc } from '../src/webrtc/rtc.node.js';
import { MAX_PENDING_CANDIDATES } from '../src/constants.js';
import { PeerConnection } from '../src/webrtc/peer-connection.js';
import { parseSignal, type SignalPayload, type Signaller } from '../src/webrtc/signals.js';
import { WebRtcTransport, type WebRtcTransportOptions } from '../src/webrtc/webrtc-transport.js';

const RTC = nodeRtcPeerConnection({ bindAddress: '127.0.0.1' });
const MiB = 1024 * 1024;
/** A failure must surface within this, in milliseconds (no hang). */
const FAIL_FAST_MS = 3_000;

after(() => shutdownNodeRtc());

/** The scheduler's relay, in memory: payloads go through JSON and parseSignal, delivered in order on a later turn. */
class Hub {
  private readonly receivers = new Map<string, (from: string, p: SignalPayload) => void>();
  relayed = 0;
  drop = false;
  for(id: string): Signaller {
    return {
      send: (to, payload) => {
        const wire = JSON.stringify(payload);
        this.relayed++;
        setImmediate(() => {
          const parsed = parseSignal(JSON.parse(wire));
          if (!this.drop && parsed) this.receivers.get(to)?.(id, parsed);
        });
      },
      subscribe: (receiver) => {
        this.receivers.set(id, receiver);
        return () => this.receivers.delete(id);
      },
    };
  }
}

function pair(extra: Partial<WebRtcTransportOptions> = {}) {
  const hub = new Hub();
  const make = (id: string) =>
    new WebRtcTransport({ localId: id, signaller: hub.for(id), RTCPeerConnection: RTC, ...extra });
  const a = make('worker-a');
  const b = make('worker-b');
  const stores = { a: new Map<string, Uint8Array>(), b: new Map<string, Uint8Array>() };
  a.serve({ lookup: (k) => stores.a.get(k), put: (k, v) => (stores.a.set(k, v), { ok: true }) });
  b.serve({ lookup: (k) => stores.b.get(k) });
  return { hub, a, b, stores, close: () => (a.close(), b.close()) };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const signal = () => AbortSignal.timeout(60_000);

test('two PeerConnections open one negotiated channel through an in-memory signaller', async () => {
  const hub = new Hub();
  const sig = { a: hub.for('a'), b: hub.for('b') };
  const pcs = {
    a: new PeerConnection({ localId: 'a', remoteId: 'b', signal: (p) => sig.a.send('b', p), RTCPeerConnection: RTC }),
    b: new PeerConnection({ localId: 'b', remoteId: 'a', signal: (p) => sig.b.send('a', p), RTCPeerConnection: RTC }),
  };
  sig.a.subscribe((_from, p) => pcs.a.receive(p));
  sig.b.subscribe((_from, p) => pcs.b.receive(p));
  assert.equal(pcs.a.offerer, true);
  assert.equal(pcs.b.offerer, false);
  const t0 = performance.now();
  await Promise.all([pcs.a.whenOpen({ signal: signal() }), pcs.b.whenOpen({ signal: signal() })]);
  assert.ok(performance.now() - t0 < 5_000);
  assert.ok(pcs.a.maxMessageBytes >= 16 * 1024 && pcs.a.maxMessageBytes <= 64 * 1024);
  // Raw frames both ways over the channel streams.
  const sa = new ChannelStream(pcs.a.channel!, { name: 'b' });
  const sb = new ChannelStream(pcs.b.channel!, { name: 'a' });
  const got: unknown[] = [];
  sb.receive({ frame: (h, body) => got.push([h, body.byteLength]), closed: () => {} });
  sa.receive({ frame: () => {}, closed: () => {} });
  await sa.send({ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'a' });
  await sa.send({ type: 'x' }, new Uint8Array(300_000));
  while (got.length < 2) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(got, [
    [{ type: 'hello', protocolVersion: PROTOCOL_VERSION, from: 'a' }, 0],
    [{ type: 'x' }, 300_000],
  ]);
  const closed = new Promise((r) => pcs.b.on('close', r));
  pcs.a.close();
  assert.ok((await closed) instanceof Error, 'the remote learns the connection closed');
});

test('a 64 MiB value travels through get-data with its bytes intact', async (t) => {
  const p = pair();
  try {
    const value = randomBytes(64 * MiB);
    p.stores.b.set('big', value);
    p.stores.b.set('small', new Uint8Array([1, 2, 3]));
    const link = await p.a.connect({ id: 'worker-b' }, { signal: signal() });
    const t0 = performance.now();
    const got = await link.getData(['big', 'small', 'nope'], { signal: signal() });
    const ms = performance.now() - t0;
    assert.equal(got.values.get('big')?.byteLength, value.byteLength);
    assert.equal(sha(got.values.get('big')!), sha(value));
    assert.deepEqual([...got.values.get('small')!], [1, 2, 3]);
    assert.deepEqual(got.missing, ['nope']);
    t.diagnostic(`64 MiB in ${ms.toFixed(0)} ms (${((64 / ms) * 1000).toFixed(0)} MiB/s)`);
    // The same link is reused, and it works the other way round too (b asks a).
    assert.equal(await p.a.connect({ id: 'worker-b' }, { signal: signal() }), link);
    p.stores.a.set('back', randomBytes(1000));
    const back = await (
      await p.b.connect({ id: 'worker-a' }, { signal: signal() })
    ).getData(['back'], { signal: signal() });
    assert.equal(sha(back.values.get('back')!), sha(p.stores.a.get('back')!));
    assert.equal(p.a.size, 1);
    assert.equal(p.b.size, 1);
  } finally {
    p.close();
  }
});

test('a peer closed mid-transfer fails the fetch quickly with a clear error', async () => {
  const p = pair();
  try {
    p.stores.b.set('big', randomBytes(64 * MiB));
    const link = await p.a.connect({ id: 'worker-b' }, { signal: signal() });
    const fetching = link.getData(['big'], { signal: signal() });
    setTimeout(() => p.b.close(), 100);
    const t0 = performance.now();
    await assert.rejects(fetching, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'CONNECTION');
      assert.match(e.message, /worker-b/);
      return true;
    });
    assert.ok(performance.now() - t0 < FAIL_FAST_MS, `failed after ${performance.now() - t0} ms`);
    assert.equal(link.closed, true);
    await assert.rejects(link.getData(['big'], { signal: signal() }), /closed/);
  } finally {
    p.close();
  }
});

test("the scheduler's bye for a peer that left closes the connection to it: a fetch fails now, not at its timeout", async () => {
  const p = pair();
  try {
    p.stores.b.set('big', randomBytes(64 * MiB));
    const link = await p.a.connect({ id: 'worker-b' }, { signal: signal() });
    const fetching = link.getData(['big'], { signal: signal() });
    const t0 = performance.now();
    p.hub.for('worker-b').send('worker-a', { kind: 'bye' }); // as the scheduler does when worker-b's socket closes
    await assert.rejects(fetching, (e: Error & { code?: string }) => {
      assert.equal(e.code, 'CONNECTION');
      assert.match(e.message, /worker-b left the cluster/);
      return true;
    });
    assert.ok(performance.now() - t0 < FAIL_FAST_MS, `failed after ${performance.now() - t0} ms`);
    assert.equal(p.a.size, 0);
  } finally {
    p.close();
  }
});

test('many small requests interleave in both directions', async () => {
  const p = pair();
  try {
    for (let i = 0; i < 200; i++) {
      p.stores.a.set(`a${i}`, randomBytes(i * 37));
      p.stores.b.set(`b${i}`, randomBytes(i * 53 + 1));
    }
    p.stores.b.set('big', randomBytes(8 * MiB));
    // b asks first: b has the higher id, so this goes through request-offer.
    const fromB = await p.b.connect({ id: 'worker-a' }, { signal: signal() });
    const fromA = await p.a.connect({ id: 'worker-b' }, { signal: signal() });
    const big = fromA.getData(['big'], { signal: signal() });
    const asks = [];
    for (let i = 0; i < 200; i++) {
      asks.push(fromA.getData([`b${i}`, `b${(i * 7) % 200}`], { signal: signal() }).then((d) => [`b${i}`, d] as const));
      asks.push(fromB.getData([`a${i}`], { signal: signal() }).then((d) => [`a${i}`, d] as const));
    }
    for (const [key, d] of await Promise.all(asks)) {
      const store = key.startsWith('a') ? p.stores.a : p.stores.b;
      assert.equal(sha(d.values.get(key)!), sha(store.get(key)!), key);
    }
    assert.equal((await big).values.get('big')?.byteLength, 8 * MiB);
    await fromB.putData('put', new Uint8Array([9, 9]), { signal: signal() });
    assert.deepEqual([...p.stores.a.get('put')!], [9, 9]);
    await assert.rejects(fromA.putData('put', new Uint8Array(1), { signal: signal() }), /accepts no put-data/);
  } finally {
    p.close();
  }
});

test('connect times out when signalling is lost, says how far it got, and abort is honoured', async () => {
  const p = pair({ connectTimeoutMs: 500 });
  try {
    p.hub.drop = true;
    const t0 = performance.now();
    await assert.rejects(p.a.connect({ id: 'worker-b' }, { signal: signal() }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'TIMEOUT');
      // It says how far it got: here the answer never came back.
      assert.match(e.message, /offer sent; answer not received; candidates gathered \d+, sent 0, received 0; ICE /);
      return true;
    });
    assert.ok(performance.now() - t0 < FAIL_FAST_MS);
    await assert.rejects(
      p.b.connect({ id: 'worker-a' }, { signal: AbortSignal.timeout(50) }),
      /TimeoutError|aborted|timed out/i,
    );
    assert.equal(p.a.size, 0);
  } finally {
    p.close();
  }
});

test('idle connections close, and the bound on connections evicts the idle one', async () => {
  const hub = new Hub();
  const opts = {
    signaller: undefined as unknown as Signaller,
    RTCPeerConnection: RTC,
    idleTimeoutMs: 300,
    maxConnections: 1,
  };
  const mk = (id: string) => new WebRtcTransport({ ...opts, localId: id, signaller: hub.for(id) });
  const [a, b, c] = [mk('a'), mk('b'), mk('c')];
  for (const t of [a, b, c]) t.serve({ lookup: () => new Uint8Array([1]) });
  try {
    const ab = await a.connect({ id: 'b' }, { signal: signal() });
    await ab.getData(['k'], { signal: signal() });
    const ac = await a.connect({ id: 'c' }, { signal: signal() }); // evicts a↔b (idle)
    assert.equal(ab.closed, true);
    assert.equal(a.size, 1);
    await ac.getData(['k'], { signal: signal() });
    const until = Date.now() + 5_000;
    while (!ac.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.equal(ac.closed, true, 'closed after the idle timeout');
    assert.equal(a.size, 0);
    // A new connect after the idle close opens a fresh connection.
    const again = await a.connect({ id: 'c' }, { signal: signal() });
    assert.deepEqual([...(await again.getData(['k'], { signal: signal() })).values.get('k')!], [1]);
  } finally {
    for (const t of [a, b, c]) t.close();
  }
});

test('a peer flooding candidates before its description gets the first MAX_PENDING_CANDIDATES held, the rest refused, and the connection goes on', async () => {
  const errors: Error[] = [];
  const pc = new PeerConnection({
    localId: 'worker-a',
    remoteId: 'worker-z',
    signal: () => {},
    RTCPeerConnection: RTC,
    connectTimeoutMs: 60_000,
  });
  pc.on('error', (e) => errors.push(e));
  try {
    const candidate = {
      kind: 'candidate',
      candidate: 'candidate:1 1 udp 1 127.0.0.1 9 typ host',
      sdpMid: '0',
      sdpMLineIndex: 0,
    } as const;
    for (let i = 0; i < MAX_PENDING_CANDIDATES + 10; i++) pc.receive(candidate);
    assert.equal(errors.length, 10);
    assert.match(errors[0]?.message ?? '', new RegExp(`over ${MAX_PENDING_CANDIDATES} candidates from worker-z`));
    assert.equal(pc.state, 'connecting', 'the flood costs the sender its candidates, not the connection');
  } finally {
    pc.close();
  }
});
