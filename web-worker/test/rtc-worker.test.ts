// Node workers speaking WebRTC: a dependency whose holder is addressed 'webrtc' is fetched over a
// data channel (node-datachannel on 127.0.0.1), signalling through the scheduler's relay; the
// same worker still uses TCP for `tcp://` holders; `acquire` copies over WebRTC; bytes are
// counted per peer and path on both ends; closing the workers lets the process exit.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { FutureRef, WEBRTC_ADDRESS, decodeValue, encodeValue } from '@meshwork/protocol';
import { TcpPeerFetcher } from '@meshwork/datalink/node';
import { isLoopbackHost, startWorker, type WorkerHandle } from '../src/node/index.js';
import { FakeScheduler, type FakeWorkerConn, type Msg } from './fake-scheduler.js';

/** Float64 elements of the value that moves: 1.6 MB, many data-channel chunks. */
const VALUE_LENGTH = 200_000;

let scheduler: FakeScheduler;
let a: WorkerHandle;
let b: WorkerHandle;
let ca: FakeWorkerConn;
let cb: FakeWorkerConn;
/** Encoded size of 'big', made on worker a. */
let bigBytes = 0;

before(async () => {
  scheduler = await FakeScheduler.start();
  a = await startWorker({ scheduler: scheduler.address, threads: 1 });
  b = await startWorker({ scheduler: scheduler.address, threads: 1 });
  ca = await scheduler.conn(a.id);
  cb = await scheduler.conn(b.id);
});
after(async () => {
  await Promise.all([a.close(), b.close()]);
  await scheduler.close();
});

function task(key: string, fn: (...x: never[]) => unknown, args: unknown[], deps: { key: string; holders: { id: string; address: string }[] }[] = []): Msg {
  const source = fn.toString();
  return { type: 'compute-task', key, fn: `fn-${key}`, fnName: fn.name || 'lambda', source, args: encodeValue(args).bytes, deps };
}

const make = (n: number) => new Float64Array(n).fill(1.5);
const sum = (xs: Float64Array) => xs.reduce((s, x) => s + x, 0);

test('a dependency held by a "webrtc" holder comes over a data channel, counted on both ends', async () => {
  ca.send(task('big', make, [VALUE_LENGTH]));
  const made = await ca.forKey('big');
  assert.equal(made.type, 'task-finished');
  const nbytes = (bigBytes = made.nbytes as number);
  cb.send(task('sum-rtc', sum, [new FutureRef('big')], [{ key: 'big', holders: [{ id: a.id, address: WEBRTC_ADDRESS }] }]));
  const m = await cb.forKey('sum-rtc');
  assert.equal(m.type, 'task-finished', JSON.stringify(m));
  assert.equal(decodeValue(m.value as Uint8Array), 1.5 * VALUE_LENGTH);
  assert.ok(scheduler.signalsRelayed > 0, 'signals went through the scheduler');
  assert.deepEqual(
    b.transfers().map((t) => [t.peer, t.path, t.bytesReceived]),
    [[a.id, 'webrtc', nbytes]],
  );
  assert.deepEqual(
    a.transfers().map((t) => [t.peer, t.path, t.bytesSent]),
    [[b.id, 'webrtc', nbytes]],
  );
});

test('the same worker fetches a tcp:// holder over the direct link', async () => {
  cb.send(task('sum-tcp', sum, [new FutureRef('big')], [{ key: 'big', holders: [{ id: a.id, address: a.dataAddress }] }]));
  assert.equal((await cb.forKey('sum-tcp')).type, 'task-finished');
  const tcp = b.transfers().find((t) => t.path === 'tcp');
  assert.equal(tcp?.peer, a.id);
  assert.ok((tcp?.bytesReceived ?? 0) > VALUE_LENGTH * 8);
  assert.equal(a.transfers().find((t) => t.path === 'tcp')?.peer, b.id, 'the data server knows who asked (hello.from)');
});

test('acquire copies over WebRTC into the store; the copy is then served over TCP', async () => {
  cb.inbox.length = 0; // earlier heartbeats counted the fetched dependency
  cb.send({
    type: 'acquire',
    id: 3,
    items: [
      { key: 'big', holders: [{ id: a.id, address: WEBRTC_ADDRESS }] },
      { key: 'nowhere', holders: [{ id: a.id, address: WEBRTC_ADDRESS }] },
    ],
  });
  const reply = await cb.next((x) => x.type === 'acquired');
  assert.deepEqual(reply, { type: 'acquired', id: 3, items: [{ key: 'big', nbytes: bigBytes }], missing: [{ key: 'nowhere', holder: a.id }] });
  const client = new TcpPeerFetcher({ from: 'test-client' });
  try {
    const got = await client.fetch([{ id: b.id, address: b.dataAddress }], ['big'], { signal: AbortSignal.timeout(10_000) });
    assert.equal(got.values.get('big')?.byteLength, bigBytes);
  } finally {
    client.close();
  }
  // The copy counts in memory (next() throws if no such heartbeat comes).
  await cb.next((x) => x.type === 'heartbeat' && (x.memoryUsed as number) >= bigBytes, 3_000);
});

test('loopback hosts are recognised (ICE then binds to 127.0.0.1)', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2']) assert.ok(!isLoopbackHost(h), h);
});
