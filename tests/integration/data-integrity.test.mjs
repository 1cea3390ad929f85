// Values fetched from a peer are checked against the hash their producer reported: a holder whose
// copy went bad (here: one byte flipped in its store, as a faulty machine or a tampering peer
// would serve it) is not believed; its copy is dropped and the value recomputed from lineage, and
// the dependent task gets the right bytes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { startWorker } from '@meshwork/web-worker/node';
import { encodeFrame, valueHash } from '@meshwork/protocol';
import { getJson, rawWorker } from './helpers.mjs';

let cluster;
let client;
let a;
let b;

before(async () => {
  cluster = await LocalCluster.start({ workers: 0 });
  a = await startWorker({ scheduler: cluster.address, threads: 1, name: 'a' });
  b = await startWorker({ scheduler: cluster.address, threads: 1, name: 'b' });
  client = await Client.connect(cluster.address);
});
after(async () => {
  await client?.close();
  await Promise.all([a?.close(), b?.close()]);
  await cluster?.close();
});

const make = (n) => Float64Array.from({ length: n }, (_, i) => i);
const sum = (xs) => xs.reduce((s, x) => s + x, 0);
const N = 100_000;

test("a value is hashed where it is made, and the producer's hash is what the scheduler hands out", async () => {
  const big = client.with({ workers: ['a'], pure: false }).submit(make, N);
  await new Promise((resolve) => big.onDone(resolve));
  const stored = a.store.get(big.key);
  assert.ok(stored, 'the value stays on the worker that made it');
  const dump = await getJson(`${cluster.httpUrl}/api/dump`);
  const task = dump.tasks.find((t) => t.key === big.key);
  assert.equal(task.hash, await valueHash(stored), 'the value hash (BLAKE3) of the bytes it made');
  big.release();
});

test('bytes that fail the hash are refused: the bad copy is dropped, the value recomputed, the result right', async () => {
  const big = client.with({ workers: ['a'], pure: false }).submit(make, N);
  await new Promise((resolve) => big.onDone(resolve));
  const doneOnA = async () =>
    (await getJson(`${cluster.httpUrl}/api/state`)).workers.find((w) => w.name === 'a').tasks.done;
  const madeBefore = await doneOnA();
  const stored = a.store.get(big.key);
  stored[stored.length - 1] ^= 0xff; // same length, different bytes
  const total = client.with({ workers: ['b'] }).submit(sum, big);
  assert.equal(await total.result(), ((N - 1) * N) / 2);
  assert.equal(await doneOnA(), madeBefore + 1, 'the value was made again on a');
  const again = a.store.get(big.key);
  assert.ok(again && again !== stored, 'a holds a fresh copy');
  assert.deepEqual(await big.result(), make(N));
});

test('a task that mutates its input changes the stored value (tasks see views); no peer accepts the changed bytes', async () => {
  const big = client.with({ workers: ['a'], pure: false }).submit(make, N);
  await new Promise((resolve) => big.onDone(resolve));
  const stored = a.store.get(big.key);
  const before = Buffer.from(stored);
  // Against the rule (tasks do not mutate their inputs): the view it gets is the stored value.
  const vandal = (xs) => {
    xs[0] = -1e9;
    return xs.length;
  };
  assert.equal(
    await client
      .with({ workers: ['a'], pure: false })
      .submit(vandal, big)
      .result(),
    N,
  );
  assert.ok(!before.equals(a.store.get(big.key)), 'the stored bytes changed: the task got a view, not a copy');
  const total = client.with({ workers: ['b'] }).submit(sum, big);
  assert.equal(await total.result(), ((N - 1) * N) / 2, 'b refused the changed bytes and got the value made again');
  big.release();
});

test('a client gathering a copy that fails its hash does not believe it: the scheduler drops it and recomputes', async () => {
  const big = client.with({ workers: ['a'], pure: false }).submit(make, N);
  await new Promise((resolve) => big.onDone(resolve));
  const stored = a.store.get(big.key);
  stored[0] ^= 0xff;
  const value = await big.result();
  assert.deepEqual(value, make(N));
  assert.notEqual(a.store.get(big.key), stored, 'the bad copy was dropped and the value made again');
});

test("a Node worker whose data link cannot be reached is fetched from through the scheduler's relay, counted", async () => {
  // It announces an address where nothing listens (as behind a firewall): no direct link, no WebRTC
  // between Node workers, so its values reach the others through the scheduler.
  const hidden = await startWorker({
    scheduler: cluster.address,
    threads: 1,
    name: 'hidden',
    advertise: 'tcp://127.0.0.1:1',
  });
  try {
    const relayed = async () =>
      Number(
        /^meshwork_relayed_bytes_total (\d+)$/m.exec(await (await fetch(`${cluster.httpUrl}/metrics`)).text())?.[1],
      );
    const before = await relayed();
    const big = client.with({ workers: ['hidden'], pure: false }).submit(make, N);
    const total = client.with({ workers: ['b'] }).submit(sum, big);
    assert.equal(await total.result(), ((N - 1) * N) / 2);
    assert.ok((await relayed()) - before >= N * 8, 'the value went through the scheduler');
  } finally {
    await hidden.close();
  }
});

test('a worker that could not reach a live holder (no holder blamed) gets the task again; the holder keeps its copy', async () => {
  const big = client.with({ workers: ['a'], pure: false }).submit(make, 1000);
  await new Promise((resolve) => big.onDone(resolve));
  const { ws, inbox } = await rawWorker(cluster.address, { name: 'raw' });
  const sent = (key) => inbox.filter((m) => m.type === 'compute-task' && m.key === key).length;
  const until = async (done) => {
    for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
    return done();
  };
  try {
    const total = client.with({ workers: ['raw'], allowOtherWorkers: false }).submit(sum, big);
    assert.ok(await until(() => sent(total.key) === 1), 'the task went to the raw worker');
    ws.send(encodeFrame([{ type: 'dep-missing', key: total.key, dep: big.key }]));
    assert.ok(await until(() => sent(total.key) === 2), 'planned again, not left processing where it was dropped');
    const dump = await getJson(`${cluster.httpUrl}/api/dump`);
    assert.equal(dump.tasks.find((t) => t.key === big.key).status, 'memory', 'the live copy was kept');
    total.release();
  } finally {
    ws.close();
    big.release();
  }
});

test('a worker the scheduler wrongly thinks holds an input says it lacks it: the value is made again, the task runs there', async () => {
  const big = client.with({ workers: ['a'], pure: false }).submit(make, N);
  await new Promise((resolve) => big.onDone(resolve));
  a.store.delete(big.key); // lost without the scheduler knowing (as a false claim would leave it)
  const total = client.with({ workers: ['a'], allowOtherWorkers: false }).submit(sum, big);
  assert.equal(await total.result({ timeoutMs: 30_000 }), ((N - 1) * N) / 2);
  assert.ok(a.store.get(big.key), 'made again on a');
  total.release();
  big.release();
});
