// The rest of the client API (API.md) against a real cluster: scatter, whoHas, run, get,
// getExecutor, upload, asCompleted, wait, cancel, lost data, and tasks that submit tasks.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { LocalCluster } from '@meshwork/server';
import { CancelledError, Client, GraphError, LostError, RemoteError, TimeoutError } from '@meshwork/client';
import { eventually, getJson, withCluster } from './helpers.mjs';

const inc = (x) => x + 1;
const add = (a, b) => a + b;
const sleepy = async (ms, x) => {
  await new Promise((r) => setTimeout(r, ms));
  return x;
};

let cluster;
let client;
before(async () => {
  cluster = await LocalCluster.start({ workers: 2, threadsPerWorker: 1 });
  client = await Client.connect(cluster.address, { name: 'client-api-test' });
});
after(async () => {
  await client?.close();
  await cluster?.close();
});

const workerIds = async () => (await getJson(`${cluster.httpUrl}/api/state`)).workers.map((w) => w.id).sort();

test('scatter puts data on a worker; tasks use it; the same value gives the same key', async () => {
  const data = new Float64Array(1e6).fill(0.5);
  const [d] = await client.scatter([data]);
  assert.match(d.key, /^float64array-[0-9a-f]+$/);
  assert.equal(d.status, 'finished');
  const total = client.submit((a) => a.reduce((s, v) => s + v, 0), d);
  assert.equal(await total.result(), 5e5);
  const back = await d.result();
  assert.ok(back instanceof Float64Array);
  assert.equal(back.length, 1e6);
  const [again] = await client.scatter([new Float64Array(1e6).fill(0.5)]);
  assert.equal(again.key, d.key);
  const { x, y } = await client.scatter({ x: 1, y: 'two' });
  assert.deepEqual(await client.gather([x, y]), [1, 'two']);
  const everywhere = await client.scatter([new Uint8Array(100_000)], { broadcast: true });
  const holders = await client.whoHas(everywhere);
  assert.equal(holders[everywhere[0].key].length, 2);
});

test('whoHas names the workers holding each key', async () => {
  const f = client.submit(inc, 41);
  await f.result();
  const who = await client.whoHas([f]);
  assert.deepEqual(Object.keys(who), [f.key]);
  assert.equal(who[f.key].length >= 1, true);
  const ids = await workerIds();
  for (const w of who[f.key]) assert.ok(ids.includes(w), `${w} is a worker id`);
});

test('run returns one entry per worker; a worker error is thrown', async () => {
  const out = await client.run(() => globalThis.navigator?.userAgent ?? process.version);
  assert.deepEqual(Object.keys(out).sort(), await workerIds());
  for (const v of Object.values(out)) assert.equal(typeof v, 'string');
  assert.deepEqual(Object.values(await client.run((a, b) => a * b, 6, 7)), [42, 42]);
  await assert.rejects(
    client.run(() => {
      throw new TypeError('no');
    }),
    (e) => e instanceof RemoteError && e.remoteName === 'TypeError',
  );
});

test("get computes API.md's 3-task graph: 3", async () => {
  assert.equal(await client.get({ a: 1, b: [inc, 'a'], c: [add, 'a', 'b'] }, 'c'), 3);
  assert.deepEqual(await client.get({ a: 1, b: [inc, 'a'], c: [add, 'a', 'b'] }, ['a', ['b', 'c']]), [1, [2, 3]]);
  assert.deepEqual(await client.get({}, []), []);
});

test('get with a cycle throws GraphError synchronously', () => {
  assert.throws(() => client.get({ a: [inc, 'b'], b: [inc, 'a'] }, 'a'), (e) => e instanceof GraphError && e.code === 'GRAPH');
  assert.throws(() => client.get({ a: 1 }, 'missing'), GraphError);
});

test('getExecutor: plain promises', async () => {
  const exec = client.getExecutor();
  const p = exec.submit(add, 1, 2);
  assert.ok(p instanceof Promise);
  assert.equal(await p, 3);
  assert.deepEqual(await Promise.all(exec.map(inc, [1, 2, 3])), [2, 3, 4]);
  await exec.shutdown();
});

test('upload a module; mod.fn stands for its export in submit, map and run', async () => {
  const mod = await client.upload('kernels', 'export function scale(x, k) { return x * k; }\nexport const name = () => "kernels";');
  assert.equal(mod.name, 'kernels');
  assert.equal(await client.submit(mod.fn('scale'), 3, 4).result(), 12);
  assert.deepEqual(await client.gather(client.map(mod.fn('scale'), [1, 2], [10, 10])), [10, 20]);
  assert.deepEqual(Object.values(await client.run(mod.fn('name'))), ['kernels', 'kernels']);
});

test('an uploaded module is there for workers that join later too', async () => {
  await withCluster({ workers: 1 }, async (c2, cl) => {
    const mod = await cl.upload('late', 'export function triple(x) { return 3 * x; }');
    await c2.addWorker(['--name', 'late-joiner']);
    assert.equal(await cl.with({ workers: ['late-joiner'] }).submit(mod.fn('triple'), 7).result(), 21);
  });
});

test('asCompleted yields every future as it settles, errors included', async () => {
  const fast = client.submit(sleepy, 10, 'fast');
  const slow = client.submit(sleepy, 600, 'slow');
  const bad = client.submit((x) => {
    throw new Error(`bad ${x}`);
  }, 1);
  const order = [];
  const ac = client.asCompleted([slow, bad]);
  ac.add(fast);
  for await (const f of ac) order.push(f);
  assert.equal(order.length, 3);
  assert.equal(order.at(-1), slow);
  assert.equal(bad.status, 'error');
  assert.deepEqual(new Set(order), new Set([fast, slow, bad]));
});

test('wait: FIRST_COMPLETED returns early; a timeout throws TimeoutError', async () => {
  const quick = client.submit(sleepy, 10, 1);
  const long = client.with({ pure: false }).submit(sleepy, 3000, 2);
  const { done, notDone } = await client.wait([quick, long], { returnWhen: 'FIRST_COMPLETED', timeoutMs: 10_000 });
  assert.deepEqual(done, [quick]);
  assert.deepEqual(notDone, [long]);
  await assert.rejects(client.wait([long], { timeoutMs: 100 }), TimeoutError);
  await client.cancel([long]);
});

test('cancel a long-running task: CancelledError, and its dependents are cancelled too', async () => {
  const long = client.with({ pure: false }).submit(sleepy, 30_000, 1);
  const dependent = client.submit(inc, long);
  await eventually(async () => (await getJson(`${cluster.httpUrl}/api/state`)).tasks.processing > 0, { what: 'task running' });
  await client.cancel([long]);
  assert.equal(long.status, 'cancelled');
  await assert.rejects(long.result(), (e) => e instanceof CancelledError && e.code === 'CANCELLED');
  await eventually(() => dependent.status === 'cancelled', { what: 'dependent cancelled' });
  await assert.rejects(dependent.result(), CancelledError);
  // The cluster is free again, and the same call is a new submission.
  assert.equal(await client.submit(inc, 1).result({ timeoutMs: 10_000 }), 2);
});

test('cancelling one key of a pending gather leaves the other keys of that gather alone', async () => {
  const a = client.with({ pure: false }).submit(sleepy, 30_000, 'a');
  const b = client.with({ pure: false }).submit(sleepy, 500, 'b');
  const ra = assert.rejects(a.result(), CancelledError);
  const rb = b.result(); // asked in the same turn as a: one gather message
  await new Promise((r) => setTimeout(r, 100));
  await client.cancel(a);
  await ra;
  assert.equal(await rb, 'b');
  assert.equal(b.status, 'finished');
});

test('scattered data whose only holder left is lost: LostError', async () => {
  await withCluster({ workers: 2 }, async (c, cl) => {
    const [d] = await cl.scatter([new Float64Array(100_000).fill(1)], { workers: ['local-0'] });
    const victim = [...c.processes].find((p) => p.spawnargs.includes('local-0'));
    victim.kill('SIGKILL');
    await eventually(() => d.status === 'lost', { what: "status 'lost'", timeoutMs: 30_000 });
    await assert.rejects(d.result(), (e) => e instanceof LostError && e.code === 'LOST');
  });
});

test('a task can submit tasks and wait on them, even on 1 worker with 1 thread', async () => {
  await withCluster({ workers: 1, threadsPerWorker: 1 }, async (_c, cl) => {
    const outer = cl.submit(async (x) => {
      const c = await globalThis.meshwork.client();
      return await c.submit((y) => y + 1, x).result();
    }, 1);
    assert.equal(await outer.result({ timeoutMs: 30_000 }), 2);
    const fanOut = cl.submit(async (n) => {
      const c = await globalThis.meshwork.client();
      return (await c.gather(c.map((i) => i * i, Array.from({ length: n }, (_, i) => i)))).reduce((a, b) => a + b, 0);
    }, 5);
    assert.equal(await fanOut.result({ timeoutMs: 30_000 }), 30);
  });
});
