/** scatter, upload, run, whoHas and the executor against a fake scheduler and fake TCP workers. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeValue, valueHash } from '@meshwork/protocol';
import {
  CancelledError,
  Client,
  ConnectionError,
  GraphError,
  RemoteError,
  SerializationError,
  TimeoutError,
  type Future,
} from '../src/index.js';
import { platform } from '../src/platform.node.js';
import { scatterKey, typeName } from '../src/scatter.js';
import { functionSpec } from '../src/tasks.js';
import { FakeScheduler } from './fake-scheduler.js';
import { fakeWorker, type FakeWorker } from './fake-worker.js';

const inc = (x: number): number => x + 1;
const slow = (x: number): number => x;
const turn = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

let fake: FakeScheduler;
let client: Client;
let w1: FakeWorker;
let w2: FakeWorker;
let targets: (key: string) => { id: string; address: string }[] = () => [];
before(async () => {
  w1 = await fakeWorker(new Map(), { refusePut: (key) => (key.startsWith('string-') ? 'no strings here' : undefined) });
  w2 = await fakeWorker();
  fake = await FakeScheduler.start({
    hold: ['slow'],
    scatterTargets: (key) => targets(key),
    stores: () => [w1.store, w2.store],
  });
  client = await Client.connect(fake.address, { platform });
});
after(async () => {
  await client.close();
  await fake.close();
  w1.server.close();
  w2.server.close();
});

describe('scatter', () => {
  it('keys values by type and content hash: the same value twice gives the same key', () => {
    assert.equal(typeName(new Float64Array(2)), 'float64array');
    assert.equal(typeName(3), 'number');
    assert.equal(typeName([1]), 'array');
    assert.equal(typeName({}), 'object');
    assert.equal(typeName(Object.create(null)), 'object');
    const bytes = encodeValue(new Float64Array([1, 2])).bytes;
    assert.match(scatterKey(new Float64Array([1, 2]), bytes), /^float64array-[0-9a-f]{16}$/);
  });

  it('plans, puts the bytes on the planned worker, sends scattered; futures are finished at once', async () => {
    targets = () => [{ id: 'w1', address: w1.address }];
    const value = new Float64Array(1e5).fill(2.5); // over the inline limit: not cached here
    const [d] = (await client.scatter([value])) as [Future<Float64Array>];
    assert.match(d.key, /^float64array-[0-9a-f]{16}$/);
    assert.equal(d.status, 'finished');
    assert.deepEqual(w1.requests.at(-1), { type: 'put-data', id: 1, key: d.key });
    const stored = w1.store.get(d.key) as Uint8Array;
    // The plan announces each value's hash to its workers, which store nothing else.
    const hash = await valueHash(stored);
    assert.deepEqual(fake.of('scatter-plan').at(-1)?.items, [{ key: d.key, nbytes: stored.byteLength, hash }]);
    await fake.until(() => fake.of('scattered').length > 0);
    assert.deepEqual(fake.of('scattered').at(-1), {
      type: 'scattered',
      items: [{ key: d.key, nbytes: stored.byteLength, hash, workers: ['w1'] }],
      wants: [d.key],
    });
    const [again] = await client.scatter([new Float64Array(1e5).fill(2.5)]);
    assert.equal(again?.key, d.key);
    // A task on the scattered data.
    assert.equal(await client.submit((a: Float64Array) => a[0]! + a.length, d).result(), 2.5 + 1e5);
  });

  it('takes a plain object (its names become keys), a single value, and broadcast/workers options', async () => {
    targets = () => [
      { id: 'w1', address: w1.address },
      { id: 'w2', address: w2.address },
    ];
    const { x, y } = await client.scatter({ x: 1, y: [1, 2] }, { broadcast: true, workers: ['w1', 'w2'] });
    assert.equal(x.key, 'x');
    assert.deepEqual(await client.gather([x, y]), [1, [1, 2]], 'small values are cached: no round trip');
    await fake.until(() => fake.of('scattered').length === 3);
    assert.deepEqual(fake.of('scatter-plan').at(-1)?.workers, ['w1', 'w2']);
    assert.equal(fake.of('scatter-plan').at(-1)?.broadcast, true);
    assert.deepEqual(fake.of('scattered').at(-1)?.items[0]?.workers, ['w1', 'w2']);
    const single = await client.scatter(new Map([[1, 'one']]));
    assert.match(single.key, /^map-/);
    assert.deepEqual(await single.result(), new Map([[1, 'one']]));
  });

  it('refuses what cannot travel before sending anything', async () => {
    await turn();
    const plans = fake.of('scatter-plan').length;
    await assert.rejects(client.scatter([1, () => 2]), (e: unknown) => e instanceof SerializationError && e.path === 'values[1]');
    await assert.rejects(client.scatter([client.submit(inc, 1)]), (e: unknown) => e instanceof SerializationError && /future/.test(e.message));
    await turn();
    assert.equal(fake.of('scatter-plan').length, plans);
  });

  it('retries the plan while no worker is there, then fails with TimeoutError', async () => {
    targets = () => [];
    const plans = fake.of('scatter-plan').length;
    const started = Date.now();
    await assert.rejects(client.scatter([42], { timeoutMs: 300 }), (e: unknown) => e instanceof TimeoutError && /no worker/.test(e.message));
    assert.ok(Date.now() - started >= 250);
    assert.ok(fake.of('scatter-plan').length - plans >= 2);
    let calls = 0;
    targets = () => (++calls < 3 ? [] : [{ id: 'w2', address: w2.address }]);
    const [f] = await client.scatter([43], { timeoutMs: 5_000 });
    assert.equal(await f?.result(), 43);
  });

  it('without direct links (a browser), sends each value as an identity task under its scatter key', async () => {
    const other = await Client.connect(fake.address, { platform: { ...platform, name: 'browser', directLinks: false } });
    const plans = fake.of('scatter-plan').length;
    const [a, b] = await other.scatter([7, new Float64Array([1, 2])]);
    assert.match(a?.key ?? '', /^number-/);
    assert.match(b?.key ?? '', /^float64array-/);
    assert.deepEqual(await other.gather([a, b]), [7, new Float64Array([1, 2])]);
    assert.equal(fake.of('scatter-plan').length, plans, 'no plan: tasks instead');
    await other.close();
  });

  it('fails with ConnectionError when every planned worker refuses the value', async () => {
    targets = () => [{ id: 'w1', address: w1.address }];
    await assert.rejects(client.scatter(['a string']), (e: unknown) => e instanceof ConnectionError && /no strings here/.test(e.message));
  });
});

describe('upload and module functions', () => {
  it('uploads, and mod.fn stands for an export in submit, map and run', async () => {
    const mod = await client.upload('kernels', 'export function tile(x, y) { return x + y }');
    assert.equal(mod.name, 'kernels');
    assert.match(mod.hash, /^[0-9a-f]+$/);
    const tile = mod.fn<[number, number], unknown>('tile');
    assert.equal(mod.fn('tile'), tile);
    assert.deepEqual(functionSpec(tile), {
      id: functionSpec(tile).id,
      name: 'tile',
      source: 'tile',
      module: { name: 'kernels', hash: mod.hash },
    });
    const f = client.submit(tile, 1, 2);
    assert.match(f.key, /^tile-[0-9a-f]{32}$/);
    assert.equal(client.submit(tile, 1, 2).key, f.key);
    assert.deepEqual(await f.result(), { module: 'kernels', hash: mod.hash, export: 'tile', args: [1, 2] });
    assert.equal(client.map(tile, [1, 2], [3, 4]).length, 2);
    const ran = await client.run(tile, 5, 6);
    assert.deepEqual(Object.keys(ran), ['worker-a', 'worker-b']);
    assert.throws(() => tile(1, 2), GraphError);
  });

  it('keys change with the module version', async () => {
    const v1 = await client.upload('m', 'export const f = (x) => x');
    const v2 = await client.upload('m', 'export const f = (x) => x + 1');
    assert.notEqual(client.submit(v1.fn('f'), 1).key, client.submit(v2.fn('f'), 1).key);
  });

  it('refuses bad names', async () => {
    await assert.rejects(client.upload('no/slash', ''), GraphError);
    const mod = await client.upload('ok', '');
    assert.throws(() => mod.fn('not an identifier'), GraphError);
  });
});

describe('run and whoHas', () => {
  it('run returns one entry per worker and throws a worker error', async () => {
    assert.deepEqual(await client.run((a: number, b: number) => a * b, 6, 7), { 'worker-a': 42, 'worker-b': 42 });
    const explode = (): never => {
      throw new TypeError('nope');
    };
    await assert.rejects(client.run(explode), (e: unknown) => e instanceof RemoteError && e.remoteName === 'TypeError' && e.workerId === 'worker-a');
    const both = await client.runWith({ onError: 'return', workers: ['worker-b'] }, explode);
    assert.deepEqual(Object.keys(both), ['worker-b']);
    assert.ok(both['worker-b'] instanceof RemoteError);
    await assert.rejects(client.run((x: unknown) => x, client.submit(inc, 1)), SerializationError);
  });

  it('whoHas maps keys to workers, for given futures or all held keys', async () => {
    const f = client.submit(inc, 100);
    await f.result();
    assert.deepEqual(await client.whoHas([f]), { [f.key]: ['worker-a'] });
    assert.deepEqual(await client.whoHas(f), { [f.key]: ['worker-a'] });
    const all = await client.whoHas();
    assert.deepEqual(all[f.key], ['worker-a']);
  });
});

describe('getExecutor', () => {
  it('submit and map give plain promises and release their futures', async () => {
    await turn();
    const graphs = fake.of('update-graph').length;
    const exec = client.getExecutor();
    const p = exec.submit(inc, 1000);
    assert.ok(p instanceof Promise);
    assert.equal(await p, 1001);
    assert.deepEqual(await Promise.all(exec.map(inc, [1001, 1002, 1003])), [1002, 1003, 1004]);
    const keys = fake.of('update-graph').slice(graphs).flatMap((m) => m.wants);
    assert.equal(keys.length, 4);
    await fake.until(() => keys.every((k) => fake.refcount(k) === 0));
  });

  it('shutdown refuses new work and can cancel what is pending', async () => {
    const exec = client.getExecutor();
    const pending = exec.submit(slow, 555);
    const rejected = assert.rejects(pending, CancelledError);
    await turn();
    await exec.shutdown({ cancelPending: true });
    await rejected;
    assert.throws(() => exec.submit(inc, 1), CancelledError);
  });
});
