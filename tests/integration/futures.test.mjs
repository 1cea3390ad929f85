// The core futures API against a real cluster: a scheduler and two worker processes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { Client } from '@meshwork/client';
import { eventually, getJson } from './helpers.mjs';

const inc = (x) => x + 1;
const add = (a, b) => a + b;

let cluster;
let client;
before(async () => {
  cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
  client = await Client.connect(cluster.address, { name: 'futures-test' });
});
after(async () => {
  await client?.close();
  await cluster?.close();
});

test('submit, futures as arguments, result', async () => {
  const x = client.submit(inc, 1);
  const y = client.submit(add, x, 10);
  assert.equal(await y.result(), 12);
  assert.equal(y.status, 'finished');
  assert.equal(x.status, 'finished');
});

test('map and gather, also of nested structures', async () => {
  const xs = client.map(inc, [1, 2, 3]);
  assert.deepEqual(await client.gather(xs), [2, 3, 4]);
  const nested = await client.gather({ a: xs[0], b: [xs[1], { c: xs[2] }], d: 'plain' });
  assert.deepEqual(nested, { a: 2, b: [3, { c: 4 }], d: 'plain' });
});

test('futures anywhere inside arguments: objects, arrays, Map values', async () => {
  const a = client.submit(inc, 1);
  const b = client.submit(inc, 2);
  const f = client.submit((o) => o.x + o.list[0] + o.map.get('k'), { x: a, list: [b], map: new Map([['k', a]]) });
  assert.equal(await f.result(), 2 + 3 + 2);
});

test('pure keys: the same call gives the same key; pure:false a fresh one', async () => {
  const a = client.submit(inc, 41);
  const b = client.submit(inc, 41);
  assert.equal(a.key, b.key);
  assert.match(a.key, /^inc-[0-9a-f]+$/);
  assert.notEqual(client.submit(inc, 42).key, a.key);
  const r1 = client.with({ pure: false }).submit(inc, 41);
  const r2 = client.with({ pure: false }).submit(inc, 41);
  assert.notEqual(r1.key, r2.key);
  assert.deepEqual(await client.gather([a, b, r1, r2]), [42, 42, 42, 42]);
  assert.match(client.submit((x) => x, 1).key, /^lambda-[0-9a-f]+$/);
});

test('values keep their types: typed arrays, Map, Set, Date, bigint, nested', async () => {
  const value = {
    f64: new Float64Array([1.5, -2.25]),
    i32: new Int32Array([7, -7]),
    u8: new Uint8Array([1, 2, 3]),
    map: new Map([[1, 'one']]),
    set: new Set(['s']),
    date: new Date(86_400_000),
    big: 2n ** 70n,
    deep: { a: [{ b: [undefined, null, 'x'] }] },
  };
  const back = await client.submit((v) => v, value).result();
  assert.deepEqual(back, value);
  assert.ok(back.f64 instanceof Float64Array);
});

test('onDone fires once, also when registered after settling; exception() is null on success', async () => {
  const f = client.submit(inc, 100);
  let calls = 0;
  f.onDone(() => calls++);
  await f.result();
  await eventually(() => calls === 1, { what: 'onDone' });
  let late = null;
  f.onDone((g) => (late = g));
  await eventually(() => late === f, { what: 'late onDone' });
  assert.equal(calls, 1);
  assert.equal(await f.exception(), null);
});

test('result({timeoutMs}) throws TimeoutError and the future stays usable', async () => {
  const slow = client.submit(async (ms) => new Promise((r) => setTimeout(() => r('done'), ms)), 600);
  await assert.rejects(slow.result({ timeoutMs: 50 }), (e) => e.code === 'TIMEOUT' && e.name === 'TimeoutError');
  assert.equal(await slow.result(), 'done');
});

test('a dependent chain of 200 tasks', async () => {
  let f = client.submit(inc, 0);
  for (let i = 1; i < 200; i++) f = client.submit(inc, f);
  assert.equal(await f.result(), 200);
});

test('large values move worker to worker and reach the client intact', async () => {
  const make = (n) => {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = i;
    return a;
  };
  const done = async () => Object.fromEntries((await getJson(`${cluster.httpUrl}/api/state`)).workers.map((w) => [w.name, w.tasks.done]));
  const big = client.with({ workers: ['local-0'] }).submit(make, 2_000_000);
  await new Promise((resolve) => big.onDone(resolve));
  const before = await done();
  const summed = client.with({ workers: ['local-1'] }).submit((a) => a.reduce((s, v) => s + v, 0), big);
  assert.equal(await summed.result(), ((2_000_000 - 1) * 2_000_000) / 2);
  const after = await done();
  assert.equal(after['local-1'], before['local-1'] + 1, 'the sum ran on local-1, whose input sat on local-0');
  assert.equal(after['local-0'], before['local-0']);
  const metrics = await (await fetch(`${cluster.httpUrl}/metrics`)).text();
  assert.match(metrics, /^meshwork_relayed_bytes_total 0$/m, 'nothing went through the scheduler');
  // Both ends report the transfer on their heartbeats: /api/state shows who traded what, and how.
  const ids = Object.fromEntries((await getJson(`${cluster.httpUrl}/api/state`)).workers.map((w) => [w.name, w.id]));
  const peers = async (name) => (await getJson(`${cluster.httpUrl}/api/state`)).workers.find((w) => w.name === name).peers;
  await eventually(async () => (await peers('local-1')).some((p) => p.peer === ids['local-0'] && p.path === 'tcp' && p.bytesReceived >= 16_000_000), {
    what: 'local-1 reports what it received from local-0',
  });
  await eventually(async () => (await peers('local-0')).some((p) => p.peer === ids['local-1'] && p.path === 'tcp' && p.bytesSent >= 16_000_000), {
    what: 'local-0 reports what it sent to local-1',
  });
  const tcpBytes = Number(/^meshwork_peer_bytes_total\{path="tcp"\} (\d+)$/m.exec(await (await fetch(`${cluster.httpUrl}/metrics`)).text())?.[1]);
  assert.ok(tcpBytes >= 16_000_000, `meshwork_peer_bytes_total{path="tcp"} is ${tcpBytes}`);
  const back = await big.result();
  assert.equal(back.length, 2_000_000);
  assert.equal(back[1_999_999], 1_999_999);
});

test('/api/state lists the workers and counts tasks', async () => {
  const state = await getJson(`${cluster.httpUrl}/api/state`);
  assert.equal(state.workers.length, 2);
  for (const w of state.workers) {
    assert.equal(w.kind, 'node');
    assert.equal(w.threads, 1);
    assert.equal(typeof w.id, 'string');
    assert.equal(typeof w.name, 'string');
    assert.equal(typeof w.bytesStored, 'number');
    assert.equal(typeof w.memory.used, 'number');
    assert.equal(typeof w.tasks.running, 'number');
    assert.equal(typeof w.tasks.done, 'number');
    assert.equal(typeof w.paused, 'boolean');
    assert.deepEqual(w.resources, {});
  }
  for (const k of ['waiting', 'processing', 'memory', 'erred']) assert.equal(typeof state.tasks[k], 'number');
  const metrics = await (await fetch(`${cluster.httpUrl}/metrics`)).text();
  assert.match(metrics, /^meshwork_relayed_bytes_total 0$/m);
  assert.match(metrics, /^meshwork_workers\{kind="node"\} 2$/m);
});

test('released futures free their data on the workers', async () => {
  const other = await Client.connect(cluster.address);
  try {
    const f = other.with({ pure: false }).submit((n) => new Float64Array(n), 500_000);
    await f.result();
    const stored = async () => (await getJson(`${cluster.httpUrl}/api/state`)).workers.reduce((n, w) => n + w.bytesStored, 0);
    await eventually(async () => (await stored()) >= 4_000_000, { what: 'data stored' });
    const before = await stored();
    f.release();
    await eventually(async () => (await stored()) <= before - 4_000_000, { what: 'data freed' });
  } finally {
    await other.close();
  }
});
